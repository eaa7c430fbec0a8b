"""Large, realistic, deterministic configs for load tests, benchmarks and the simulator.

The shape follows the mission's centre: Mandarin with dialects and some English; lines of
business (customer service, sales, marketing...) as skills; agents with 1-6 skills; two
build phases split into floors of 500 seats; queues whose requirements widen in steps;
VIP queues with priority; blended and back-office profiles for chat, e-mail, SMS and fax.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

import yaml

from cc_router.config import environment
from cc_router.core.spec import CentreSpec

# Ordered so that small --skills values still get a usable centre (a language, a line of
# business, vip) and larger ones add variety before falling back to numbered topics.
_LANGS = [
    ("lang_zh", "普通话 Mandarin"),
    ("lang_en", "English"),
    ("lang_henan", "河南话 Henan dialect"),
    ("lang_yue", "粤语 Cantonese"),
    ("lang_wuu", "吴语 Wu"),
    ("lang_nan", "闽南语 Southern Min"),
    ("lang_hak", "客家话 Hakka"),
    ("lang_jin", "晋语 Jin"),
    ("lang_xiang", "湘语 Xiang"),
    ("lang_gan", "赣语 Gan"),
    ("lang_ja", "日本語 Japanese"),
    ("lang_ko", "한국어 Korean"),
    ("lang_ru", "Русский Russian"),
]
_LOBS = [
    ("billing", "话费账单 billing"),
    ("sales", "业务办理 sales"),
    ("tech", "网络故障 technical support"),
    ("marketing", "营销活动 marketing"),
    ("broadband", "宽带 home broadband"),
    ("roaming", "国际漫游 roaming"),
    ("data_plans", "流量套餐 data plans"),
    ("complaints", "投诉 complaints"),
    ("retention", "挽留 retention"),
    ("enterprise", "集团客户 enterprise"),
    ("porting", "携号转网 number porting"),
    ("devices", "终端 handsets"),
    ("payments", "缴费 payments"),
    ("iot", "物联网 IoT"),
    ("value_added", "增值业务 value-added services"),
    ("family", "家庭套餐 family plans"),
    ("prepaid", "预付费 prepaid"),
    ("fraud", "防诈骗 fraud"),
]
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰萍鹏辉红玲建国宇浩凯晨欣怡佳琪雪梅婷博文斌宁"
_FLOOR_SIZE = 500
_PHASE1 = 500  # seats at opening; the rest came with the second build phase


def _skill_names(count: int) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(declared skills with descriptions, languages, lines of business)."""
    n_langs = min(len(_LANGS), max(1, count // 8))
    langs = _LANGS[:n_langs]
    rest = count - n_langs - 1  # one is vip
    lobs = _LOBS[: max(1, min(len(_LOBS), rest))]
    fillers = [(f"topic_{i:03d}", f"topic {i}") for i in range(max(0, rest - len(lobs)))]
    declared = [*langs, *lobs, ("vip", "VIP 全球通/钻石卡 handling"), *fillers][:count]
    return declared, [s for s, _ in langs], [s for s, _ in lobs]


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _short(lang: str) -> str:
    return lang.removeprefix("lang_")


def generate_dict(agents: int = 20_000, skills: int = 100, queues: int = 60, seed: int = 1) -> dict[str, Any]:
    """The config as plain data (what the YAML file holds)."""
    if skills < 3:
        raise ValueError("need at least 3 skills (a language, a line of business, vip)")
    rng = random.Random(seed)
    declared, langs, lobs = _skill_names(skills)
    all_skills = [s for s, _ in declared]
    topics = [s for s in all_skills if s.startswith("topic_")]
    extras = [s for s in all_skills if s not in langs and s != "vip"]

    n_floors = max(1, -(-agents // _FLOOR_SIZE))
    pools = []
    for f in range(n_floors):
        phase = 1 if f * _FLOOR_SIZE < _PHASE1 else 2
        pools.append({"name": f"phase{phase}_floor{f + 1:02d}", "node": "ast1"})

    profiles: dict[str, Any] = {
        "blended": {"capacity": {"voice": 1, "chat": 3}},
        "back_office": {"capacity": {"email": 2, "fax": 1, "sms": 5}},
        "chat_desk": {"capacity": {"chat": 4, "sms": 4}},
    }
    profile_choices = ["voice"] * 70 + ["blended"] * 18 + ["back_office"] * 8 + ["chat_desk"] * 4

    agent_rows: list[dict[str, Any]] = []
    for i in range(agents):
        k = rng.randint(1, 6)
        lang = "lang_zh" if rng.random() < 0.93 or len(langs) == 1 else rng.choice(langs[1:])
        sk: dict[str, int] = {lang: rng.randint(3, 10)}
        if k >= 2:
            sk[rng.choice(lobs)] = rng.randint(2, 9)
        if k >= 3 and len(langs) > 1 and rng.random() < 0.35:
            sk[rng.choice(langs[1:])] = rng.randint(1, 8)
        if k >= 3 and rng.random() < 0.06:
            sk["vip"] = rng.randint(3, 10)
        while len(sk) < k and len(sk) < len(all_skills):
            pick = rng.choice(topics) if topics and rng.random() < 0.3 else rng.choice(extras)
            sk.setdefault(pick, rng.randint(1, 8))
        agent_rows.append(
            {
                "id": str(10000 + i),
                "name": _name(rng),
                "pool": pools[i // _FLOOR_SIZE]["name"],
                "profile": rng.choice(profile_choices),
                "skills": sk,
            }
        )

    queue_rows = _queues(rng, queues, langs, lobs, topics)
    numbers: dict[str, Any] = {}
    voice = [q for q in queue_rows if q["channel"] == "voice"]
    for k, q in enumerate(voice):
        number = "10086" if k == 0 else f"10086{k:02d}" if k < 100 else f"10086{k:03d}"
        route: dict[str, Any] = {"queue": q["name"], "attributes": {"lob": q["name"].split("_")[0]}}
        if q["name"].startswith("vip_"):
            route["priority"] = 5
        numbers[number] = route
    sms = next((q for q in queue_rows if q["channel"] == "sms"), None)
    if sms is not None:
        numbers["10658000"] = {"queue": sms["name"], "attributes": {"lob": "marketing"}}

    return {
        "centre": {"name": f"generated centre ({agents} seats, seed {seed})", "timezone": "Asia/Shanghai"},
        "skills": [{"name": s, "description": d} for s, d in declared],
        "profiles": profiles,
        "seat_pools": pools,
        "asterisk": [
            {
                "name": "ast1",
                "host": "127.0.0.1",
                "port": 15038,
                "username": "ccrouter",
                "secret": f"${{{environment.AMI_SECRET}:-{environment.SANDBOX_AMI_SECRET}}}",
            }
        ],
        "routing": {"max_misses": 3, "seed": seed},
        "queues": queue_rows,
        "numbers": numbers,
        "campaigns": [
            {
                "name": "spring_2012",
                "service_number": "10658000",
                "keyword": "2012",
                "start": "2027-01-23T00:00:00",
                "end": "2027-01-30T00:00:00",
                "reply_enrolled": "您已成功参加2012春节优惠活动，优惠将在活动结束后生效。",
                "reply_repeat": "您已参加过本次活动，无需重复发送。",
                "reply_outside": "本活动不在参与时间内，感谢您的关注。",
            }
        ],
        "agents": agent_rows,
    }


def _queues(
    rng: random.Random, count: int, langs: list[str], lobs: list[str], topics: list[str]
) -> list[dict[str, Any]]:
    general = {
        "name": "general_zh",
        "channel": "voice",
        "requirement": "lang_zh >= 2",
        "steps": [{"after_s": 60, "requirement": "lang_zh"}],
        "service_level_s": 20,
        "max_wait_s": 300,
        "on_max_wait": "voicemail:100",
        "on_empty": "callback",
    }
    out: list[dict[str, Any]] = [general]
    names = {"general_zh"}

    def add(q: dict[str, Any]) -> None:
        if len(out) < count and q["name"] not in names:
            names.add(q["name"])
            out.append(q)

    def widening(lang: str, lob: str) -> list[dict[str, Any]]:
        steps = [
            {"after_s": 20, "requirement": f"{lang} >= 2 and {lob} >= 2"},
            {"after_s": 45, "requirement": f"{lang} and {lob}", "priority_boost": 1},
            {"after_s": 90, "requirement": f"{lang} >= 3", "priority_boost": 1},
        ]
        return steps[: rng.randint(1, 3)]

    add(
        {
            "name": "sms_marketing",
            "channel": "sms",
            "requirement": lobs[min(3, len(lobs) - 1)],
            "ring_timeout_s": 60,
            "service_level_s": 600,
        }
    )
    add(
        {
            "name": "fax_general",
            "channel": "fax",
            "requirement": "true",
            "ring_timeout_s": 120,
            "service_level_s": 86400,
        }
    )
    # Every line of business in Mandarin, English and the local dialect before the rarer
    # languages, so a modest --queues still looks like a real centre.
    combos = [(lang, lob) for lob in lobs for lang in langs[:3]]
    combos += [(lang, lob) for lang in langs[3:] for lob in lobs]
    for lang, lob in combos:
        add(
            {
                "name": f"{lob}_{_short(lang)}",
                "channel": "voice",
                "requirement": f"{lang} >= 3 and {lob} >= 4",
                "strategy": rng.choice(["longest_idle", "longest_idle", "fewest_interactions", "best_skill"]),
                "wrapup_s": rng.choice([0, 5, 10]),
                "max_wait_s": 180,
                "on_max_wait": "queue:general_zh",
                "steps": widening(lang, lob),
            }
        )
        if lang == "lang_zh":
            add(
                {
                    "name": f"vip_{lob}_{_short(lang)}",
                    "channel": "voice",
                    "requirement": f"vip and {lang} >= 3 and {lob} >= 5",
                    "priority": 10,
                    "strategy": "best_skill",
                    "service_level_s": 10,
                    "steps": [{"after_s": 15, "requirement": f"{lang} >= 4 and {lob} >= 5"}],
                }
            )
            add(
                {
                    "name": f"chat_{lob}_{_short(lang)}",
                    "channel": "chat",
                    "requirement": f"{lang} >= 2 and {lob} >= 2",
                    "ring_timeout_s": 30,
                    "service_level_s": 60,
                    "steps": [{"after_s": 120, "requirement": lang}],
                }
            )
            add(
                {
                    "name": f"email_{lob}",
                    "channel": "email",
                    "requirement": f"{lob} >= 2",
                    "ring_timeout_s": 60,
                    "service_level_s": 14400,
                }
            )
    i = 0
    while len(out) < count:
        skill = topics[i % len(topics)] if topics else lobs[i % len(lobs)]
        add(
            {
                "name": f"q{i:04d}_{skill}",
                "channel": "voice",
                "requirement": f"{skill} >= {rng.randint(2, 5)}",
                "steps": [{"after_s": 30, "requirement": skill}],
                "max_wait_s": 240,
                "on_max_wait": "queue:general_zh",
            }
        )
        i += 1
    return out


def generate_yaml(agents: int = 20_000, skills: int = 100, queues: int = 60, seed: int = 1) -> str:
    data = generate_dict(agents, skills, queues, seed)
    rows = data.pop("agents")
    dumper = yaml.CSafeDumper if yaml.__with_libyaml__ else yaml.SafeDumper
    head = (
        f"# Generated by `cc-router gen-config --agents {agents} --skills {skills} --queues {queues} "
        f"--seed {seed}`.\n# Deterministic for a seed; regenerate rather than edit.\n"
    )
    body = yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False, width=110)
    # One agent per line in flow style (JSON is valid YAML): diffable, and libyaml reads
    # 20,000 of them far faster than the block style the dumper would produce.
    lines = [json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) for r in rows]
    return head + body + "agents:\n" + "".join(f"- {ln}\n" for ln in lines)


def generate_centre(
    agents: int = 20_000,
    skills: int = 100,
    queues: int = 60,
    seed: int = 1,
    env: Mapping[str, str] | None = None,
) -> CentreSpec:
    """The same centre as `generate_yaml`, validated, without a YAML round trip."""
    from cc_router.config.load import parse_config

    config = parse_config(
        generate_dict(agents, skills, queues, seed), source="<generated>", env={} if env is None else env
    )
    return config.to_centre()
