"""Adapters between the routing core and the outside world (Asterisk AMI, ...)."""
