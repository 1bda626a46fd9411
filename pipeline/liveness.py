"""Classify one URL's liveness; check many concurrently and politely."""
