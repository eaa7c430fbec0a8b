"""Supervisor console: audited actions from the wallboard, call recordings, and listening
to agents' calls (listen, whisper, barge)."""
