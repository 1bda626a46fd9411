"""A run's progress on stderr: every stage with done/total and what is left, a line in place on
a terminal, lines at least every 10 s without one (cron's log, CI)."""

from __future__ import annotations

import io

from pipeline.progress import StageProgress, duration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_without_a_terminal_a_line_when_a_stage_starts_every_10_s_and_when_it_ends() -> None:
    out, clock = io.StringIO(), Clock()
    shown = StageProgress(out, tty=False, clock=clock)
    shown("archive", 0, 46)
    for done, at in ((5, 3.0), (8, 9.0), (12, 11.0), (20, 15.0), (30, 21.5), (46, 40.0)):
        clock.now = at
        shown("archive", done, 46)
    clock.now = 41.0
    shown("verification", 0, 36)
    shown("verification", 36, 36)
    shown("reports", 0, 0)  # nothing to do: nothing said
    shown.close()
    assert out.getvalue().splitlines() == [
        "archive 0/46",
        "archive 12/46, ~31 s left",  # 11 s for 12: 34 more take ~31 s
        "archive 30/46, ~11 s left",
        "archive 46/46 in 40 s",
        "verification 0/36",
        "verification 36/36",
    ]


def test_on_a_terminal_one_line_rewritten_then_kept() -> None:
    out, clock = io.StringIO(), Clock()
    shown = StageProgress(out, tty=True, clock=clock)
    shown("links", 0, 3)
    clock.now = 2.0
    shown("links", 1, 3)
    clock.now = 4.0
    shown("links", 3, 3)
    shown.close()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("links 3/3 in 4 s\n")
    assert "\rlinks 1/3, ~4 s left" in text


def test_durations_read_at_a_glance() -> None:
    assert [duration(s) for s in (0.2, 42, 150, 3600, 3900)] == ["1 s", "42 s", "2 min", "1 h", "1 h 5 min"]
