"""Which SMS keyword campaign, if any, a text message is about. Pure: no IO, no clock."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from cc_router.config.models import CampaignConfig

# Phones add these invisibly (BOM, zero-width space/joiners, word joiner).
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"))
_SIP_USER = re.compile(r"^(?:sips?|tel|pjsip):([^@;>]+)")


class MatchKind(StrEnum):
    ENROL = "enrol"
    """Keyword matched inside the window: enrol (or it is a repeat; the store decides)."""
    OUTSIDE = "outside"
    """Keyword matched, but no campaign with it is running now."""


@dataclass(frozen=True, slots=True)
class CampaignMatch:
    kind: MatchKind
    campaign: CampaignConfig


def normalise_body(body: str) -> str:
    """What a subscriber meant to type: NFKC (full-width `２０１２` -> `2012`, ideographic
    space -> space), invisible characters dropped, trimmed, case-folded."""
    text = unicodedata.normalize("NFKC", body).translate(_INVISIBLE)
    return text.strip().casefold()


def subscriber_of(sender: str) -> str:
    """The subscriber number from a SIP From (`<sip:13800138000@host>`, `tel:+86...`)."""
    text = sender.strip().strip('"').strip()
    if "<" in text and ">" in text:
        text = text[text.index("<") + 1 : text.index(">")]
    m = _SIP_USER.match(text)
    user = m.group(1) if m else text.split("@", 1)[0]
    return unicodedata.normalize("NFKC", user).strip()


def aware(t: datetime, tz: ZoneInfo) -> datetime:
    """A naive config time is in the centre's zone."""
    return t.replace(tzinfo=tz) if t.tzinfo is None else t


def in_window(campaign: CampaignConfig, at: datetime, tz: ZoneInfo) -> bool:
    """Start inclusive, end exclusive."""
    if at.tzinfo is None:
        raise ValueError("the message time must be timezone-aware")
    return aware(campaign.start, tz) <= at < aware(campaign.end, tz)


def match_campaign(
    campaigns: Sequence[CampaignConfig],
    service_number: str,
    body: str,
    at: datetime,
    tz: ZoneInfo,
) -> CampaignMatch | None:
    """The campaign a message to `service_number` at `at` enrols in, or the one whose
    window it missed; None when it is not a campaign keyword at all (an ordinary SMS)."""
    key = normalise_body(body)
    if not key:
        return None
    number = service_number.strip()
    candidates = [c for c in campaigns if c.service_number == number and normalise_body(c.keyword) == key]
    if not candidates:
        return None
    for c in candidates:
        if in_window(c, at, tz):
            return CampaignMatch(MatchKind.ENROL, c)
    # Outside every window: answer with the next campaign to open, else the last to close.
    upcoming = [c for c in candidates if aware(c.start, tz) > at]
    if upcoming:
        return CampaignMatch(MatchKind.OUTSIDE, min(upcoming, key=lambda c: aware(c.start, tz)))
    return CampaignMatch(MatchKind.OUTSIDE, max(candidates, key=lambda c: aware(c.end, tz)))
