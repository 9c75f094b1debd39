"""Shared test helpers: free loopback ports, polling with a deadline, processes stopped by their PID."""
