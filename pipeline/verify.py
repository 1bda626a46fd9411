"""The readable text of a page, and where each quoted passage is found in it."""
