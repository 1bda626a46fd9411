"""Wayback CDX, TimeGate and Save Page Now client: the snapshot closest to a claim's date."""
