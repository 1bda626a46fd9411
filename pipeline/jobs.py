"""The run: stages, concurrency, incremental re-checks, the lock, resuming."""
