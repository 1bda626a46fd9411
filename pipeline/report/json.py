"""The report as JSON (report.json), the contract machines rely on."""
