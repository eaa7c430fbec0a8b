"""The reporting grain: the store's interval rows, the wallboard's current interval and the
simulator's charts all cut time into the same slots."""

INTERVAL_S = 900
"""15 minutes, the usual contact-centre reporting interval."""
