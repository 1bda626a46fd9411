(function () {
  var buttons = document.querySelectorAll("[data-filter]");
  var cards = document.querySelectorAll(".card");
  var status = document.getElementById("filter-status");
  function apply(filter) {
    var shown = 0;
    cards.forEach(function (card) {
      var show = filter === "all" || card.getAttribute("data-" + filter) === "1";
      card.hidden = !show;
      if (show) { shown += 1; }
    });
    buttons.forEach(function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-filter") === filter ? "true" : "false");
    });
    status.textContent = shown + " of " + cards.length + " citations shown";
  }
  buttons.forEach(function (button) {
    button.addEventListener("click", function () { apply(button.getAttribute("data-filter")); });
  });
  document.getElementById("filters").hidden = false;
  apply("all");
})();
