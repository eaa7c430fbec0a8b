"""Benchmarks: commands that print one JSON object per line. Not part of pass/fail."""
