from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cc_router.cli.main import app
from cc_router.config import Config, ConfigError, load_config, loads_config
from cc_router.config.generate import generate_centre, generate_yaml
from cc_router.core.router import Router
from cc_router.core.spec import Channel, ExitKind, ExitTarget

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"
BROKEN = Path(__file__).parent / "broken"
SANDBOX_ENV: dict[str, str] = {}

BASE = """\
skills: [lang_zh, lang_en, billing, vip]
agents:
  - {id: "1001", skills: {lang_zh: 3, billing: 2}}
queues:
  - {name: billing_zh, requirement: lang_zh >= 2 and billing}
  - {name: general_zh, requirement: lang_zh}
  - {name: chat_zh, channel: chat, requirement: lang_zh}
"""


def load(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "centre.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path, env=SANDBOX_ENV if env is None else env)


def errors_of(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(text, tmp_path, env)
    return info.value


# ---------------------------------------------------------------------- the example


def test_example_loads_and_converts() -> None:
    cfg = load_config(EXAMPLE, env={})
    centre = cfg.to_centre()
    assert len(centre.agents) >= 60
    assert {"lang_zh", "lang_henan", "lang_en", "vip"} <= centre.skills
    assert {q.name for q in centre.queues} >= {
        "billing_zh",
        "sales_zh",
        "tech_zh",
        "dialect_henan",
        "english",
        "vip",
    }
    assert {q.channel for q in centre.queues} == set(Channel)
    assert cfg.numbers["1008688"].queue == "vip"
    assert cfg.asterisk[0].secret is not None
    assert cfg.asterisk[0].secret.get_secret_value() == "ccrouter-sandbox"
    agents = {a.id: a for a in centre.agents}
    assert agents["2001"].endpoint == "Local/2001@ccr-sim-agent"
    assert agents["1004"].endpoint == "PJSIP/1004"
    assert agents["2001"].name == "陈静"
    billing = centre.queue("billing_zh")
    assert billing is not None and billing.on_max_wait == ExitTarget(ExitKind.QUEUE, "general_zh")
    assert [s.after_s for s in billing.steps] == [20, 60]
    assert "voice" in centre.profiles and "blended" in centre.profiles


def test_router_builds_from_example() -> None:
    router = Router(load_config(EXAMPLE, env={}).to_centre())
    assert len(router.agents) >= 60
    assert "vip" in router.queues


def test_example_campaign_window_is_shanghai_time() -> None:
    camp = load_config(EXAMPLE, env={}).campaigns[0]
    assert camp.keyword_key == "2012"
    assert camp.start.utcoffset() == timedelta(hours=8)
    assert camp.end - camp.start == timedelta(days=7)


def test_minimal_file_uses_defaults(tmp_path: Path) -> None:
    cfg = load("", tmp_path)
    centre = cfg.to_centre()
    assert centre.agents == () and "voice" in centre.profiles
    assert cfg.centre.timezone == "Asia/Shanghai"
    assert cfg.store.batch_size == 500 and cfg.mqtt.enabled is False
    assert cfg.wallboard.thresholds.sl_alarm == 0.6


def test_agent_groups_expand(tmp_path: Path) -> None:
    cfg = load(
        (
            BASE
            + """\
seat_pools: [{name: f1, endpoint_template: "PJSIP/{id}"}]
agent_groups:
  - {id_start: 1, count: 3, prefix: A, width: 4, pool: f1, skills: {lang_en: 4}, name_template: "坐席{n}"}
"""
        ).replace('{id: "1001",', '{id: "1001", pool: f1,'),
        tmp_path,
    )
    agents = {a.id: a for a in cfg.to_centre().agents}
    assert set(agents) == {"1001", "A0001", "A0002", "A0003"}
    assert agents["A0003"].endpoint == "PJSIP/A0003"
    assert agents["A0002"].name == "坐席2"


# ---------------------------------------------------------------------- errors


CASES = [
    pytest.param(
        "queues:\n  - {name: q, requirement: lang_zh >= }\n",
        "queues[0].requirement",
        "expression ends too early",
        id="expression-syntax",
    ),
    pytest.param(
        BASE + "  - {name: x, requirement: lang_fr >= 2}\n",
        "queues[3].requirement",
        "unknown skill lang_fr",
        id="unknown-skill-in-requirement",
    ),
    pytest.param(
        BASE + "  - {name: x, steps: [{after_s: 5, requirement: lang_zh or klingon}]}\n",
        "queues[3].steps[0].requirement",
        "unknown skill klingon",
        id="unknown-skill-in-step",
    ),
    pytest.param(
        BASE + "  - {name: x, requirement: lang_zh >= 11}\n",
        "queues[3].requirement",
        "outside 0..10",
        id="bad-level-in-expression",
    ),
    pytest.param(
        BASE.replace("lang_zh: 3,", "lang_zh: 0,"),
        "agents[0].skills.lang_zh",
        "greater than or equal to 1",
        id="agent-level-0",
    ),
    pytest.param(
        BASE.replace("lang_zh: 3,", "lang_zh: 12,"),
        "agents[0].skills.lang_zh",
        "less than or equal to 10",
        id="agent-level-12",
    ),
    pytest.param(
        BASE.replace("lang_zh: 3,", "lang_zh: high,"),
        "agents[0].skills.lang_zh",
        "valid integer",
        id="agent-level-type",
    ),
    pytest.param(
        BASE.replace("billing: 2}", "cooking: 2}"),
        "agents[0].skills.cooking",
        "unknown skill 'cooking'",
        id="agent-unknown-skill",
    ),
    pytest.param(
        BASE + "  - {name: x, ring_timout_s: 3}\n",
        "queues[3].ring_timout_s",
        "did you mean 'ring_timeout_s'",
        id="unknown-key",
    ),
    pytest.param(
        BASE + "routing: {max_misses: lots}\n", "routing.max_misses", "valid integer", id="wrong-type"
    ),
    pytest.param(BASE + "agents_extra: []\n", "agents_extra", "unknown key", id="unknown-section"),
    pytest.param(
        BASE.replace("queues:", '  - {id: "1001"}\nqueues:'),
        "agents[1].id",
        "duplicate agent id '1001' (also agents[0])",
        id="duplicate-agent",
    ),
    pytest.param(
        BASE + "agent_groups: [{id_start: 1000, count: 5}]\n",
        "agent_groups[0].id_start",
        "duplicate agent id '1001' (also agents[0])",
        id="duplicate-agent-in-group",
    ),
    pytest.param(
        BASE + "  - {name: general_zh}\n",
        "queues[3].name",
        "duplicate queue 'general_zh'",
        id="duplicate-queue",
    ),
    pytest.param(
        BASE + "  - {name: x, max_wait_s: 9, on_max_wait: 'queue:nowhere'}\n",
        "queues[3].on_max_wait",
        "unknown queue 'nowhere'",
        id="unknown-overflow-target",
    ),
    pytest.param(
        BASE + "  - {name: x, max_wait_s: 9, on_max_wait: 'queue:chat_zh'}\n",
        "queues[3].on_max_wait",
        "a chat queue, from a voice queue",
        id="overflow-other-channel",
    ),
    pytest.param(
        BASE + "  - {name: x, on_empty: 'lunch'}\n",
        "queues[3].on_empty",
        "unknown exit target 'lunch'",
        id="bad-exit-syntax",
    ),
    pytest.param(
        BASE + "  - {name: x, on_max_wait: hangup}\n",
        "queues[3].on_max_wait",
        "no effect without max_wait_s",
        id="exit-without-limit",
    ),
    pytest.param(
        BASE.replace("skills: {lang_zh", "profile: gold, skills: {lang_zh"),
        "agents[0].profile",
        "unknown profile 'gold'",
        id="unknown-profile",
    ),
    pytest.param(
        BASE.replace("skills: {lang_zh", "pool: floor9, skills: {lang_zh"),
        "agents[0].pool",
        "unknown seat pool 'floor9'",
        id="unknown-pool",
    ),
    pytest.param(
        BASE + "seat_pools: [{name: f1, node: ast9}]\n",
        "seat_pools[0].node",
        "unknown Asterisk node 'ast9'",
        id="unknown-node",
    ),
    pytest.param(
        BASE + "  - {name: x, steps: [{after_s: 30, requirement: lang_zh}, "
        "{after_s: 30, requirement: lang_en}]}\n",
        "queues[3].steps",
        "must be greater than steps[0].after_s",
        id="steps-not-increasing",
    ),
    pytest.param(
        BASE + "numbers: {10086: {queue: nowhere}}\n",
        'numbers["10086"].queue',
        "unknown queue 'nowhere'",
        id="number-unknown-queue",
    ),
    pytest.param(
        BASE + "campaigns: [{name: c, service_number: '10658000', keyword: '2012', "
        "start: 2027-01-29T00:00:00, end: 2027-01-23T00:00:00}]\n",
        "campaigns[0].end",
        "ends (2027-01-23T00:00:00+08:00) before it starts",
        id="campaign-window",
    ),
    pytest.param(
        BASE + "campaigns: [{name: c, service_number: '10658000', keyword: 'a b', "
        "start: 2027-01-23, end: 2027-01-30}]\n",
        "campaigns[0].keyword",
        "one word",
        id="campaign-keyword",
    ),
    pytest.param(
        BASE + "campaigns:\n"
        "  - {name: a, service_number: '1', keyword: Go, start: 2027-01-01, end: 2027-01-10}\n"
        "  - {name: b, service_number: '1', keyword: gO, start: 2027-01-09, end: 2027-01-20}\n",
        "campaigns[1].keyword",
        "overlaps campaigns[0]",
        id="campaign-overlap",
    ),
    pytest.param(
        BASE.replace("vip]", "vip, billing]"),
        "skills[4].name",
        "already declared",
        id="duplicate-skill",
    ),
    pytest.param(
        BASE + "centre: {timezone: Mars/Olympus}\n", "centre.timezone", "unknown time zone", id="bad-timezone"
    ),
    pytest.param(
        BASE + "asterisk: [{name: ast1}]\n",
        "asterisk[0].secret",
        "CC_ROUTER_AMI_SECRET",
        id="missing-ami-secret",
    ),
    pytest.param(BASE + "skills_x: 1\nqueues: []\n", "", "duplicate key 'queues'", id="duplicate-yaml-key"),
]


@pytest.mark.parametrize(("text", "path", "reason"), CASES)
def test_error_names_file_field_and_reason(text: str, path: str, reason: str, tmp_path: Path) -> None:
    err = errors_of(text, tmp_path)
    msg = str(err)
    assert str(tmp_path / "centre.yaml") in msg
    matching = [i for i in err.issues if (not path or i.path == path) and reason in i.message]
    assert matching, msg
    issue = matching[0]
    assert issue.line is not None, msg
    assert f"centre.yaml:{issue.line}: " in msg


def test_yaml_syntax_error_has_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(BROKEN / "yaml_syntax.yaml", env={})
    msg = str(info.value)
    assert "yaml_syntax.yaml:" in msg and "YAML syntax error" in msg
    assert info.value.issues[0].line is not None


def test_all_errors_are_collected() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(BROKEN / "many_errors.yaml", env={})
    paths = {i.path for i in info.value.issues}
    assert {
        "agents[0].skills.lang_zh",
        "agents[1].skils",
        "queues[0].ring_timout_s",
        "queues[1].channel",
        "routing.max_misses",
    } <= paths, str(info.value)


def test_cross_reference_errors_are_collected() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(BROKEN / "cross_refs.yaml", env={})
    paths = {i.path for i in info.value.issues}
    assert {
        "agents[0].pool",
        "agents[1].id",
        "agents[1].profile",
        "agents[1].skills.sales",
        "queues[0].requirement",
        "queues[0].on_max_wait",
        'numbers["1008601"].queue',
    } <= paths, str(info.value)


# ---------------------------------------------------------------------- secrets and environment


def test_env_substitution(tmp_path: Path) -> None:
    cfg = load(
        BASE
        + "centre: {name: '${CENTRE}'}\nasterisk: [{name: ast1, secret: '${AMI}', host: '${H:-10.0.0.1}', "
        "allow_plaintext: true}]\n"
        "http: {token: 'a$$b'}\n",
        tmp_path,
        env={"CENTRE": "洛阳", "AMI": "s3cret"},
    )
    assert cfg.centre.name == "洛阳"
    assert cfg.asterisk[0].host == "10.0.0.1"
    assert cfg.asterisk[0].secret is not None and cfg.asterisk[0].secret.get_secret_value() == "s3cret"
    assert cfg.http.token is not None and cfg.http.token.get_secret_value() == "a$b"


def test_env_missing_variable_is_an_error(tmp_path: Path) -> None:
    err = errors_of(BASE + "centre: {name: '${NOPE}'}\n", tmp_path, env={})
    assert err.issues[0].path == "centre.name" and "NOPE" in err.issues[0].message


def test_env_fallbacks_and_overrides(tmp_path: Path) -> None:
    env = {
        "CC_ROUTER_AMI_SECRET": "from-env",
        "CC_ROUTER_API_TOKEN": "tok",
        "CC_ROUTER_STORE_URL": "postgresql+asyncpg://u:pw@db/cc",
    }
    cfg = load(BASE + "asterisk: [{name: ast1}]\nstore: {url: 'sqlite+aiosqlite:///x.db'}\n", tmp_path, env)
    assert cfg.asterisk[0].secret is not None and cfg.asterisk[0].secret.get_secret_value() == "from-env"
    assert cfg.http.token is not None and cfg.http.token.get_secret_value() == "tok"
    assert cfg.store.url == "postgresql+asyncpg://u:pw@db/cc"
    assert "pw" not in repr(cfg)


def test_secrets_never_printed(tmp_path: Path) -> None:
    secret = "Sup3rS3cret"
    cfg = load(
        BASE + f"asterisk: [{{name: ast1, secret: {secret}}}]\nhttp: {{token: {secret}}}\n"
        f"mqtt: {{password: {secret}}}\n",
        tmp_path,
    )
    assert secret not in repr(cfg) and secret not in str(cfg)
    assert secret not in cfg.model_dump_json()
    # A secret of the wrong shape, and a secret next to an error, stay out of messages.
    err = errors_of(
        BASE + f"asterisk: [{{name: ast1, secret: [{secret}]}}]\nhttp: {{tokn: {secret}}}\n", tmp_path
    )
    assert secret not in str(err)
    err = errors_of(BASE + f'asterisk: [{{name: ast1, secret: "{secret}\n', tmp_path)
    assert secret not in str(err)


# ---------------------------------------------------------------------- CLI and generator

runner = CliRunner()


def test_check_config_ok() -> None:
    result = runner.invoke(app, ["check-config", str(EXAMPLE)], env={"CC_ROUTER_AMI_SECRET": "x"})
    assert result.exit_code == 0, result.output
    assert "agents" in result.stdout and "queues" in result.stdout and "numbers" in result.stdout


def test_check_config_broken() -> None:
    result = runner.invoke(app, ["check-config", str(BROKEN / "cross_refs.yaml")])
    assert result.exit_code != 0
    assert "cross_refs.yaml" in result.stderr and "unknown seat pool 'floor9'" in result.stderr


def test_check_config_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check-config", str(tmp_path / "nope.yaml")])
    assert result.exit_code != 0


def test_gen_config_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "gen.yaml"
    result = runner.invoke(
        app,
        [
            "gen-config",
            "--agents",
            "500",
            "--skills",
            "30",
            "--queues",
            "25",
            "--seed",
            "7",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    check = runner.invoke(app, ["check-config", str(out)])
    assert check.exit_code == 0, check.output
    assert "500 agents, 30 skills, 25 queues" in check.stdout
    cfg = load_config(out, env={})
    centre = cfg.to_centre()
    assert centre == generate_centre(agents=500, skills=30, queues=25, seed=7)
    assert all(1 <= len(a.skills) <= 6 for a in centre.agents)
    assert any(q.priority > 0 for q in centre.queues)
    assert all(1 <= len(q.steps) <= 3 for q in centre.queues if q.channel is Channel.VOICE)
    Router(centre)


def test_gen_config_is_deterministic_and_stdout() -> None:
    result = runner.invoke(app, ["gen-config", "--agents", "50", "--skills", "10", "--queues", "8"])
    assert result.exit_code == 0
    assert result.stdout == generate_yaml(agents=50, skills=10, queues=8, seed=1)
    assert generate_yaml(50, 10, 8, 2) != generate_yaml(50, 10, 8, 1)


def test_generated_fast_path_matches_yaml_parser(tmp_path: Path) -> None:
    # 1,500 agents takes the JSON-lines fast path; shifting them by a space forces YAML.
    text = generate_yaml(agents=1500, skills=20, queues=10, seed=3)
    fast = loads_config(text, env={})
    slow_text = text.replace("agents:\n- {", "agents:\n -  {").replace("\n- {", "\n -  {")
    slow = loads_config(slow_text, env={})
    assert fast.to_centre() == slow.to_centre()


def test_json_document_reads_as_the_yaml_parser_does() -> None:
    import json

    import yaml

    from cc_router.config.yaml_source import _Loader, load_yaml

    data = yaml.safe_load(generate_yaml(agents=300, skills=10, queues=6, seed=4))
    text = json.dumps(data)
    # The YAML parser on the same text (what a JSON config went through before).
    via_yaml = yaml.load(text, Loader=_Loader)
    assert load_yaml(text, "x") == via_yaml
    assert (
        loads_config(text, env={}).to_centre()
        == loads_config(generate_yaml(agents=300, skills=10, queues=6, seed=4), env={}).to_centre()
    )


def test_json_document_with_a_duplicate_key_is_reported_with_its_line() -> None:
    text = '{"centre": {"name": "x"},\n "skills": [],\n "skills": ["a"]}'
    with pytest.raises(ConfigError) as err:
        loads_config(text, env={})
    assert "duplicate key 'skills'" in str(err.value)
    assert err.value.issues[0].line == 3  # the later one, as for YAML


def test_campaign_naive_and_aware_times(tmp_path: Path) -> None:
    cfg = load(
        BASE + "campaigns:\n"
        "  - {name: a, service_number: 10658000, keyword: 2012, start: 2027-01-23, end: 2027-01-30}\n"
        "  - {name: b, service_number: 10658000, keyword: ABC, start: '2027-01-23T00:00:00+00:00',"
        " end: '2027-01-24T00:00:00Z'}\n",
        tmp_path,
    )
    a, b = cfg.campaigns
    assert a.keyword == "2012" and a.service_number == "10658000"
    assert a.start == datetime.fromisoformat("2027-01-23T00:00:00+08:00")
    assert b.start.utcoffset() == timedelta(0) and b.keyword_key == "abc"
