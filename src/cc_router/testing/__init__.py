"""Helpers for tests, benchmarks and demos against the real Asterisk sandbox."""
