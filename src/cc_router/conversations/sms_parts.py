"""Splitting a reply into SMS parts, as a handset network would count them.

GSM 7-bit text: 160 characters in one part, 153 per part when concatenated. Anything else
(Chinese, emoji) is UCS-2: 70 UTF-16 units alone, 67 per part concatenated; a surrogate
pair is never cut.
"""

from __future__ import annotations

GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = frozenset("^{}\\[~]|€\f")
"""Escaped characters: two septets each."""


def is_gsm7(text: str) -> bool:
    return all(c in GSM7 or c in GSM7_EXT for c in text)


def _units(c: str, gsm: bool) -> int:
    if gsm:
        return 2 if c in GSM7_EXT else 1
    return 2 if ord(c) > 0xFFFF else 1


def sms_parts(text: str) -> list[str]:
    if not text:
        return [""]
    gsm = is_gsm7(text)
    single, multi = (160, 153) if gsm else (70, 67)
    if sum(_units(c, gsm) for c in text) <= single:
        return [text]
    parts: list[str] = []
    cur: list[str] = []
    used = 0
    for c in text:
        n = _units(c, gsm)
        if used + n > multi:
            parts.append("".join(cur))
            cur, used = [], 0
        cur.append(c)
        used += n
    if cur:
        parts.append("".join(cur))
    return parts
