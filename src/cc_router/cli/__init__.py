"""Command line: `cc-router ...`."""
