"""cc-router: skills-based contact-centre routing beside a real Asterisk PBX."""

__version__ = "0.1.0"
