"""The report as Markdown, for repositories and pull-request comments."""
