"""Config of the waiting caller: announcements, prompt sets, callbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from cc_router.config import load_config
from tests.config.test_config import BASE, errors_of

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"


def test_the_example_announces_and_offers_callbacks() -> None:
    config = load_config(EXAMPLE, env={"CC_ROUTER_AMI_SECRET": "x"})
    general = next(q for q in config.queues if q.name == "general_zh")
    assert general.announce is not None and general.announce.every_s == 60
    assert general.callback is not None and general.callback.offer_after_s == 90
    policy = general.callback.policy()
    assert (policy.attempts, policy.gap_s, policy.window_start_s, policy.window_end_s) == (
        3, 600, 8 * 3600, 21 * 3600,
    )  # fmt: skip
    spec = config.to_centre().queue("general_zh")
    assert spec is not None and spec.callback == policy
    assert config.to_centre().routing.timezone == "Asia/Shanghai"
    # henan callers hear the zh prompt set; a language without a set hears the default
    assert config.announcements.prompts_for("henan").language == "zh"
    assert config.announcements.prompts_for("fr").there_are == "queue-thereare"
    assert config.callbacks.dial_for("ast1", "13800138000") == "PJSIP/13800138000@trunk"


@pytest.mark.parametrize(
    ("extra", "path", "reason"),
    [
        (
            "    callback: {window: '8-20'}\n",
            "queues[1].callback.window",
            "HH:MM-HH:MM",
        ),
        ("    callback: {window: '08:00-25:00'}\n", "queues[1].callback.window", "00:00 to 24:00"),
        ("    announce: {every_s: 2}\n", "queues[1].announce.every_s", "greater than or equal to 10"),
    ],
)
def test_bad_queue_sections_are_named(extra: str, path: str, reason: str, tmp_path: Path) -> None:
    text = BASE.replace(
        "  - {name: general_zh, requirement: lang_zh}\n",
        "  - name: general_zh\n    requirement: lang_zh\n" + extra,
    )
    err = errors_of(text, tmp_path)
    assert any(i.path == path and reason in i.message for i in err.issues), str(err)


def test_announcements_only_on_voice_queues(tmp_path: Path) -> None:
    text = BASE.replace(
        "  - {name: chat_zh, channel: chat, requirement: lang_zh}\n",
        "  - {name: chat_zh, channel: chat, requirement: lang_zh, announce: {}}\n",
    )
    err = errors_of(text, tmp_path)
    assert any(i.path == "queues[2].announce" and "only for voice" in i.message for i in err.issues), str(err)


def test_unknown_prompt_set_and_dial_without_number(tmp_path: Path) -> None:
    err = errors_of(
        BASE + "announcements: {languages: {zh: mandarin}}\ncallbacks: {dial: PJSIP/trunk}\n", tmp_path
    )
    messages = {i.path: i.message for i in err.issues}
    assert "unknown prompt set mandarin" in messages.get("announcements", ""), str(err)
    assert "{number}" in messages.get("callbacks.dial", ""), str(err)
