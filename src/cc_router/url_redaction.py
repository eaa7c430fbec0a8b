"""The one rule for hiding a password written inside a URL (`scheme://user:pw@host`).

Used by config reprs, the store's messages and every log line; a leaf module, so that
config, store and logs can all import it.
"""

from __future__ import annotations

import re

MASK = "***"

URL_CREDENTIALS = re.compile(r"(://[^/\s:@]*):[^@\s]*@")
"""`://user:` then the password (which may hold a `/`) up to `@`; white space ends it, so
it can run over free text."""


def redact_url(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***`."""
    return URL_CREDENTIALS.sub(r"\1:" + MASK + "@", text)
