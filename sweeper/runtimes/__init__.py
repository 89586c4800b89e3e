"""Runtimes start and stop the per-session agent runners: as local processes, or (later) in containers."""
