"""citewatch: find every cited URL of a document, check it, find its archived copies, verify its quotes."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/citewatch/citewatch"
USER_AGENT = f"citewatch/{__version__} (+{PROJECT_URL})"
