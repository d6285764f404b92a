"""Daemon primitives: the parent that restarts a child, its backoff, trading window and heartbeat."""
