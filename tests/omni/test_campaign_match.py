"""Pure campaign matching: window edges, time zones, full-width digits, case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from cc_router.config.models import CampaignConfig
from cc_router.omni.campaign_match import (
    MatchKind,
    in_window,
    match_campaign,
    normalise_body,
    subscriber_of,
)

SH = ZoneInfo("Asia/Shanghai")


def camp(**kw: object) -> CampaignConfig:
    base: dict[str, object] = {
        "name": "spring_2012",
        "service_number": "10658000",
        "keyword": "2012",
        "start": datetime(2027, 1, 23),
        "end": datetime(2027, 1, 30),
    }
    base.update(kw)
    return CampaignConfig.model_validate(base)


def at_sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("2012", "2012"),
        ("  2012\n", "2012"),
        ("２０１２", "2012"),  # full-width digits
        ("\u3000２０１２\u3000", "2012"),  # ideographic spaces
        ("\ufeff2012\u200b", "2012"),  # BOM, zero-width space
        ("VIP", "vip"),
        ("ｖｉｐ", "vip"),  # full-width latin
        ("Straße", "strasse"),  # casefold, not lower
    ],
)
def test_normalise_body(body: str, expected: str) -> None:
    assert normalise_body(body) == expected


@pytest.mark.parametrize(
    ("sender", "subscriber"),
    [
        ("<sip:13800138000@127.0.0.1>", "13800138000"),
        ('"张伟" <sip:13800138000@127.0.0.1:5070>', "13800138000"),
        ("sip:13800138000@10.0.0.1;transport=udp", "13800138000"),
        ("tel:+8613800138000", "+8613800138000"),
        ("13800138000", "13800138000"),
        ("<sip:１３８００１３８０００@h>", "13800138000"),
    ],
)
def test_subscriber_of(sender: str, subscriber: str) -> None:
    assert subscriber_of(sender) == subscriber


def test_window_edges_in_centre_time_zone() -> None:
    c = camp()
    assert not in_window(c, at_sh(2027, 1, 22, 23, 59, 59), SH)
    assert in_window(c, at_sh(2027, 1, 23, 0, 0, 0), SH)  # start inclusive
    assert in_window(c, at_sh(2027, 1, 29, 23, 59, 59), SH)
    assert not in_window(c, at_sh(2027, 1, 30, 0, 0, 0), SH)  # end exclusive


def test_window_with_utc_message_times() -> None:
    c = camp()
    # 2027-01-23 00:00 in Shanghai is 2027-01-22 16:00 UTC.
    assert not in_window(c, datetime(2027, 1, 22, 15, 59, 59, tzinfo=UTC), SH)
    assert in_window(c, datetime(2027, 1, 22, 16, 0, 0, tzinfo=UTC), SH)
    assert in_window(c, datetime(2027, 1, 29, 15, 59, 59, tzinfo=UTC), SH)
    assert not in_window(c, datetime(2027, 1, 29, 16, 0, 0, tzinfo=UTC), SH)


def test_explicit_offset_in_config_wins_over_centre_zone() -> None:
    c = camp(start=datetime(2027, 1, 23, tzinfo=UTC), end=datetime(2027, 1, 30, tzinfo=UTC))
    assert not in_window(c, at_sh(2027, 1, 23, 7, 59), SH)  # 23:59 UTC on the 22nd
    assert in_window(c, at_sh(2027, 1, 23, 8, 0), SH)


def test_naive_message_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        in_window(camp(), datetime(2027, 1, 25), SH)


def test_match_enrol_outside_and_none() -> None:
    cs = [camp()]
    inside = at_sh(2027, 1, 25, 12)
    m = match_campaign(cs, "10658000", " ２０１２ ", inside, SH)
    assert m is not None and m.kind is MatchKind.ENROL and m.campaign.name == "spring_2012"
    m = match_campaign(cs, "10658000", "2012", at_sh(2027, 2, 1), SH)
    assert m is not None and m.kind is MatchKind.OUTSIDE
    assert match_campaign(cs, "10658000", "2012 报名，谢谢", inside, SH) is None  # not the keyword
    assert match_campaign(cs, "10086", "2012", inside, SH) is None  # other service number
    assert match_campaign(cs, "10658000", "", inside, SH) is None


def test_keyword_case_insensitive() -> None:
    cs = [camp(keyword="VIP")]
    for body in ("vip", "Vip", "ＶＩＰ", " vip\t"):
        m = match_campaign(cs, "10658000", body, at_sh(2027, 1, 25), SH)
        assert m is not None and m.kind is MatchKind.ENROL


def test_two_windows_same_keyword_pick_the_right_one() -> None:
    first = camp(name="jan", start=datetime(2027, 1, 1), end=datetime(2027, 1, 10))
    second = camp(name="feb", start=datetime(2027, 2, 1), end=datetime(2027, 2, 10))
    cs = [first, second]
    assert (m := match_campaign(cs, "10658000", "2012", at_sh(2027, 2, 5), SH)) and m.campaign.name == "feb"
    between = match_campaign(cs, "10658000", "2012", at_sh(2027, 1, 20), SH)
    assert between is not None and between.kind is MatchKind.OUTSIDE and between.campaign.name == "feb"
    after = match_campaign(cs, "10658000", "2012", at_sh(2027, 3, 1), SH)
    assert after is not None and after.campaign.name == "feb"
    before = match_campaign(cs, "10658000", "2012", at_sh(2026, 12, 1), SH)
    assert before is not None and before.campaign.name == "jan"


def test_dst_zone_window() -> None:
    # New York springs forward on 2027-03-14; a window starting at local midnight after it.
    ny = ZoneInfo("America/New_York")
    c = camp(start=datetime(2027, 3, 14), end=datetime(2027, 3, 15))
    edt = timezone(timedelta(hours=-4))
    assert in_window(c, datetime(2027, 3, 14, 23, 59, tzinfo=edt), ny)
    assert not in_window(c, datetime(2027, 3, 15, 0, 0, tzinfo=edt), ny)
