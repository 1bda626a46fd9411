"""Provenance reports: pure renderers from results to JSON, Markdown and HTML."""
