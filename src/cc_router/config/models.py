"""The YAML config, as pydantic models.

Every model forbids unknown keys: in a file edited by hand at 3 a.m. a misspelt key is far
more likely than a deliberate extension, and silently ignoring it would leave a default in
force. Checks that need only one value live here (so pydantic reports them all at once);
checks that relate sections to each other (a queue's skills, an agent's pool...) live in
`cc_router.config.checks`, run by `cc_router.config.load` once every section is known to
be well formed.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from cc_router.config.console import ConsoleConfig
from cc_router.config.desk import AccountsConfig, DispositionSet, PauseReasonConfig
from cc_router.config.recording import RecordingConfig, record_setting
from cc_router.config.waiting import AnnounceConfig, AnnouncementsConfig, CallbackConfig, CallbacksConfig
from cc_router.conversations.settings import ConversationsConfig
from cc_router.core import expr
from cc_router.core.spec import CentreSpec, Channel, ExitKind, ExitTarget, Strategy
from cc_router.core.vocabulary import Locality
from cc_router.url_redaction import redact_url

SKILL_LEVEL_MIN = 1
"""Lowest level an agent can hold: level 0 means "does not have the skill" in expressions."""
SKILL_LEVEL_MAX = 10
EXPR_LEVEL_MAX = 10
"""Levels compared in expressions run 0..10 (`not x` is spelt `x == 0` by some people)."""

DEFAULT_ENDPOINT_TEMPLATE = "Local/{id}@ccr-sim-agent"
DEFAULT_POOL = "default"
DEFAULT_PROFILE = "voice"

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SKILL_RE = re.compile(r"^[^\W\d][\w.-]*$")
_EXPR_WORDS = frozenset({"and", "or", "not", "true", "false"})
_NUMBER_RE = re.compile(r"^[+A-Za-z0-9*#_-]{1,40}$")


def _scalar_to_str(value: Any) -> Any:
    # YAML reads `id: 1001` or `10086:` as an int; agent ids and dialled numbers are names.
    # bool is excluded: `id: yes` is almost certainly a mistake worth reporting.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _yaml_off(value: Any) -> Any:
    # YAML 1.1 reads a bare `off` as false: `locality: off` means the word.
    return "off" if value is False else value


def _check_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid id: use letters, digits, '_', '.', '-' (it becomes part of "
            "Asterisk dial strings, queue_log lines and metric labels)"
        )
    return value


Id = Annotated[str, PlainValidator(lambda v: _check_id(_as_str(_scalar_to_str(v))))]
"""Agent ids, queue, pool, profile and node names."""


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _check_skill_name(value: Any) -> str:
    name = _as_str(_scalar_to_str(value))
    if not _SKILL_RE.match(name) or name.lower() in _EXPR_WORDS:
        raise ValueError(
            f"{name!r} is not a valid skill name: start with a letter, then letters, digits, "
            "'_', '.', '-'; not and/or/not/true/false"
        )
    return name


SkillName = Annotated[str, PlainValidator(_check_skill_name)]


def _check_expression(value: Any) -> str:
    text = _as_str(value)
    try:
        node = expr.parse(text)
    except expr.ExpressionError as e:
        raise ValueError(f"bad requirement {text!r}: {e}") from None
    bad = sorted({lvl for lvl in _levels(node) if not 0 <= lvl <= EXPR_LEVEL_MAX})
    if bad:
        raise ValueError(f"level {bad[0]} in {text!r} is outside 0..{EXPR_LEVEL_MAX}")
    return text


def _levels(node: expr.Node) -> list[int]:
    if isinstance(node, expr.Compare):
        return [node.level]
    if isinstance(node, expr.Not):
        return _levels(node.operand)
    return [lvl for o in node.operands for lvl in _levels(o)]


Requirement = Annotated[str, PlainValidator(_check_expression)]
"""A requirement expression, e.g. `lang_zh >= 3 and (billing >= 2 or vip)`; skills are
checked against the declared ones later, when the whole file is known."""


def _parse_exit(value: Any) -> ExitTarget:
    if isinstance(value, ExitTarget):
        return value
    target = ExitTarget.parse(_as_str(value))
    if target.kind is ExitKind.VOICEMAIL and not re.fullmatch(r"\d{2,}", target.value):
        # dialplans/ccr-exit.conf matches `_voicemail-X.`: the box must be digits.
        raise ValueError(f"voicemail box {target.value!r} must be at least two digits")
    return target


Exit = Annotated[ExitTarget, PlainValidator(_parse_exit), PlainSerializer(str, return_type=str)]
"""`queue:NAME`, `voicemail:BOX`, `callback` or `hangup`."""


def _check_endpoint_template(value: Any) -> str:
    text = _as_str(value)
    try:
        text.format(id="x", n=1)
    except (KeyError, IndexError, ValueError) as e:
        raise ValueError(f"bad template {text!r}: only {{id}} and {{n}} may be used ({e})") from None
    return text


EndpointTemplate = Annotated[str, PlainValidator(_check_endpoint_template)]

SkillLevels = dict[SkillName, Annotated[int, Field(ge=SKILL_LEVEL_MIN, le=SKILL_LEVEL_MAX, strict=True)]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=False)


# ---------------------------------------------------------------------- sections


class CentreInfo(_Model):
    name: str = Field(default="cc-router", description="Shown on the wallboard and in logs.")
    timezone: str = Field(
        default="Asia/Shanghai",
        description="IANA zone for reports, 15-minute intervals and naive campaign times.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Asia/Shanghai)") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SkillDecl(_Model):
    name: SkillName
    description: str = ""


def _skill_decls(value: Any) -> Any:
    # Most skills need no description: a bare name is the short form of {name: ...}.
    if isinstance(value, list):
        return [{"name": x} if isinstance(x, str) else x for x in value]
    return value


class ProfileConfig(_Model):
    capacity: dict[Channel, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: {Channel.VOICE: 1},
        description="Interactions of each channel an agent holds at once; a missing channel is 0.",
    )
    blocks: dict[Channel, list[Channel]] | None = Field(
        default=None,
        description=(
            "blocks[a] = channels not offered while the agent holds work on channel a. Omitted: "
            "voice is exclusive (a call blocks everything, anything blocks calls). Given: it "
            "replaces that default entirely; channels not listed block nothing."
        ),
    )


class SeatPoolConfig(_Model):
    name: Id
    node: Id | None = Field(
        default=None,
        description="Name of the `asterisk` entry these agents' phones are on; omitted = the first.",
    )
    endpoint_template: EndpointTemplate = Field(
        default=DEFAULT_ENDPOINT_TEMPLATE,
        description="Dial string for agents without `endpoint`; {id} is the agent id.",
    )
    description: str = ""


class AgentConfig(_Model):
    id: Id
    name: str = Field(default="", description="Display name (UTF-8, e.g. Chinese).")
    pool: Id = Field(default=DEFAULT_POOL, description="Seat pool name.")
    profile: Id = Field(default=DEFAULT_PROFILE, description="Capacity profile name.")
    skills: SkillLevels = Field(
        default_factory=dict, description=f"skill: level, levels {SKILL_LEVEL_MIN}..{SKILL_LEVEL_MAX}."
    )
    weight: float = Field(default=1.0, gt=0, description="Relative share under weighted_random.")
    endpoint: str | None = Field(
        default=None,
        description="Asterisk dial string (PJSIP/1001, Local/1001@ccr-sim-agent); default from pool.",
    )


class AgentGroupConfig(_Model):
    """Many agents alike: ids `prefix + (id_start .. id_start+count-1)`, zero-padded to `width`."""

    id_start: Annotated[int, Field(ge=0)]
    count: Annotated[int, Field(ge=1, le=100_000)]
    prefix: str = ""
    width: Annotated[int, Field(ge=0, le=20)] = 0
    name_template: EndpointTemplate = Field(
        default="{id}", description="Display name; {id} = agent id, {n} = 1-based position in the group."
    )
    names: list[str] | None = Field(
        default=None, description="Explicit display names, one per agent, in order."
    )
    pool: Id = DEFAULT_POOL
    profile: Id = DEFAULT_PROFILE
    skills: SkillLevels = Field(default_factory=dict)
    weight: float = Field(default=1.0, gt=0)
    endpoint_template: EndpointTemplate | None = Field(default=None, description="Default: the seat pool's.")

    @model_validator(mode="after")
    def _names_fit(self) -> Self:
        if self.names is not None and len(self.names) != self.count:
            raise ValueError(f"names has {len(self.names)} entries but count is {self.count}")
        for n in (self.id_start, self.id_start + self.count - 1):
            _check_id(self.id_of(n))
        return self

    def id_of(self, n: int) -> str:
        return f"{self.prefix}{n:0{self.width}d}"

    def expand(self) -> list[tuple[str, str]]:
        """(id, display name) for every agent of the group."""
        out: list[tuple[str, str]] = []
        for i in range(self.count):
            aid = self.id_of(self.id_start + i)
            name = self.names[i] if self.names is not None else self.name_template.format(id=aid, n=i + 1)
            out.append((aid, name))
        return out


class StepConfig(_Model):
    after_s: float = Field(gt=0, description="Seconds in the queue after which this step applies.")
    requirement: Requirement = Field(description="OR-ed into the queue's requirement from then on.")
    priority_boost: int = Field(default=0, ge=0, description="Added to the caller's priority from then on.")


class QueueConfig(_Model):
    name: Id
    channel: Channel = Channel.VOICE
    requirement: Requirement = Field(
        default="true", description="Which agents may take work from this queue."
    )
    priority: int = Field(default=0, description="Higher is served first across all queues an agent serves.")
    strategy: Strategy = Strategy.LONGEST_IDLE
    service_level_s: float = Field(
        default=20.0, gt=0, description="Answered within this many seconds counts for SL."
    )
    wrapup_s: float = Field(
        default=0.0, ge=0, description="After-work time before the agent is offered more."
    )
    ring_timeout_s: float = Field(default=15.0, gt=0, description="Ring (or offer) no longer than this.")
    max_wait_s: float | None = Field(
        default=None, gt=0, description="Leave by `on_max_wait` after this wait."
    )
    max_length: int | None = Field(
        default=None, ge=1, description="Arrivals beyond this leave by `on_max_length`."
    )
    on_max_wait: Exit | None = None
    on_max_length: Exit | None = None
    on_empty: Exit | None = Field(
        default=None, description="Where to send arrivals when no agent is logged in."
    )
    steps: list[StepConfig] = Field(default_factory=list, description="Requirements that widen with wait.")
    record: Annotated[bool | float, BeforeValidator(record_setting)] = Field(
        default=False, description="Record connected calls (voice): true, false, or a percentage of them."
    )
    announce: AnnounceConfig | None = Field(
        default=None, description="Tell callers on hold their position and expected wait."
    )
    callback: CallbackConfig | None = Field(
        default=None, description="Callbacks that keep the caller's place (DTMF offer, `callback` exits)."
    )
    locality: Annotated[Locality, BeforeValidator(_yaml_off)] = Field(
        default=Locality.PREFER,
        description="Several Asterisk nodes: off, prefer (an equally good agent on the caller's node), only.",
    )

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[StepConfig]) -> list[StepConfig]:
        for i in range(1, len(steps)):
            if steps[i].after_s <= steps[i - 1].after_s:
                raise ValueError(
                    f"steps[{i}].after_s ({steps[i].after_s:g}) must be greater than "
                    f"steps[{i - 1}].after_s ({steps[i - 1].after_s:g})"
                )
        return steps


class RoutingConfig(_Model):
    max_misses: int = Field(default=3, ge=1, description="Missed offers in a row before the agent is paused.")
    miss_pause_reason: str = Field(default="no_answer", min_length=1, description="Pause reason for that.")
    miss_exclusion_s: float = Field(
        default=30.0, ge=0, description="A missed interaction is not re-offered to him."
    )
    direct_fallback_s: float = Field(
        default=60.0, gt=0, description="An interaction transferred to one agent waits this long for them."
    )
    offer_grace_s: float = Field(
        default=2.0, ge=0, description="Slack before the core gives up on an adapter."
    )
    seed: int = Field(default=0, description="For random strategies: same seed, same decisions.")


class NumberRoute(_Model):
    queue: Id
    priority: int = Field(default=0, description="Caller priority given to calls on this number.")
    attributes: dict[str, Annotated[str, BeforeValidator(_scalar_to_str)]] = Field(
        default_factory=dict, description="Tags copied to the interaction (lang, line of business...)."
    )


NumberKey = Annotated[str, BeforeValidator(_scalar_to_str), Field(pattern=_NUMBER_RE.pattern)]


class AsteriskNode(_Model):
    name: Id
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535, description="AMI port (manager.conf [general] port).")
    username: str = Field(default="ccrouter", min_length=1, description="manager.conf user section name.")
    secret: SecretStr | None = Field(
        default=None, description="Omitted: environment variable CC_ROUTER_AMI_SECRET."
    )
    ping_interval_s: float = Field(default=5.0, gt=0)
    ping_timeout_s: float = Field(default=3.0, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Cap of the reconnect backoff.")
    queue_log: bool = Field(
        default=True,
        description="Write app_queue-style queue_log lines into Asterisk's queue_log (AMI QueueLog).",
    )
    event_filters: bool = Field(
        default=True,
        description="Filter the router's AMI session to the events it handles (AMI Filter, Asterisk 20+).",
    )
    event_batch_s: float = Field(
        default=0.1,
        ge=0,
        le=1.0,
        description=(
            "CCREnqueue comes on a session of its own (the arrivals session) and the main session is"
            " read in batches at most this often: answers, hang-ups and failed Originates are seen up to"
            " this much later, for a few reads a call instead of eight. 0 = one session, read as events"
            " come. Needs event_filters."
        ),
    )
    drift_check_s: float = Field(
        default=30.0,
        ge=0,
        description="Compare the router's view with an Asterisk snapshot every this many seconds; 0 = off.",
    )
    tls: bool = Field(
        default=False, description="AMI over TLS (manager.conf tlsenable; Asterisk's TLS port: usually 5039)."
    )
    tls_ca_file: str | None = Field(
        default=None, description="CA file the server certificate must verify against; omitted: the system's."
    )
    tls_server_name: str | None = Field(
        default=None, description="Name the certificate must carry; omitted: `host`."
    )
    allow_plaintext: bool = Field(
        default=False, description="Plaintext AMI to a host that is not loopback: refused unless true."
    )
    drop_callers_after_s: float = Field(
        default=30.0,
        ge=0,
        description="Unreachable this long: its callers are recorded pbx_dropped (0 = only when it is back).",
    )


class TrunkConfig(_Model):
    """A trunk between two Asterisk nodes: callers on one reach agents on the other."""

    nodes: Annotated[list[Id], Field(min_length=2, max_length=2)] = Field(
        description="The two `asterisk` entries it joins."
    )
    max_calls: int | None = Field(
        default=None, ge=1, description="Calls over it at once (ringing or connected); omitted = no limit."
    )
    endpoints: dict[Id, str] = Field(
        default_factory=dict,
        description="PJSIP endpoint on each node that reaches the other; default ccr-trunk-<other node>.",
    )

    @model_validator(mode="after")
    def _two_nodes(self) -> Self:
        if self.nodes[0] == self.nodes[1]:
            raise ValueError(f"a trunk joins two different nodes, not {self.nodes[0]!r} with itself")
        unknown = sorted(set(self.endpoints) - set(self.nodes))
        if unknown:
            raise ValueError(f"endpoints: {', '.join(unknown)} is not one of this trunk's nodes")
        return self

    def endpoint_on(self, node: str) -> str:
        """The dial endpoint on `node` towards the trunk's other node."""
        other = self.nodes[1] if node == self.nodes[0] else self.nodes[0]
        return self.endpoints.get(node) or f"ccr-trunk-{other}"


class StoreConfig(_Model):
    url: str = Field(
        default="sqlite+aiosqlite:///./cc-router.db",
        description="SQLAlchemy async URL; environment variable CC_ROUTER_STORE_URL overrides it.",
    )
    batch_size: int = Field(default=500, ge=1)
    flush_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often accepted records are written to SQL (the journal holds them until "
        "then). Each flush costs the event loop a few SQL round trips whatever it writes: at 30 "
        "calls/s, 0.3 ms of router CPU per call at 0.5 s.",
    )

    def __repr_args__(self) -> Any:
        # A postgres URL carries a password; keep it out of reprs and logs.
        for key, value in super().__repr_args__():
            yield key, (redact_url(value) if key == "url" else value)


class HttpConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the control API; omitted: CC_ROUTER_API_TOKEN, else no auth.",
    )
    reads_need_token: bool = Field(
        default=False, description="Whether GETs (wallboard, stats) need the token too."
    )


class MqttConfig(_Model):
    enabled: bool = Field(default=False, description="False: run without a broker.")
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = Field(default=None, description="Omitted: CC_ROUTER_MQTT_PASSWORD if set.")
    topic_prefix: str = Field(default="cc-router", min_length=1)
    client_id: str | None = Field(default=None, description="Omitted: chosen by the adapter.")


class WallboardThresholds(_Model):
    waiting_warn: int = Field(default=5, ge=0)
    waiting_alarm: int = Field(default=20, ge=0)
    longest_wait_warn_s: float = Field(default=30.0, ge=0)
    longest_wait_alarm_s: float = Field(default=60.0, ge=0)
    sl_warn: float = Field(default=0.8, ge=0, le=1, description="Service level (0..1) below which to warn.")
    sl_alarm: float = Field(default=0.6, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.waiting_alarm < self.waiting_warn:
            raise ValueError("waiting_alarm must be >= waiting_warn")
        if self.longest_wait_alarm_s < self.longest_wait_warn_s:
            raise ValueError("longest_wait_alarm_s must be >= longest_wait_warn_s")
        if self.sl_alarm > self.sl_warn:
            raise ValueError("sl_alarm must be <= sl_warn (service level alarms when it falls lower)")
        return self


class WallboardConfig(_Model):
    thresholds: WallboardThresholds = Field(default_factory=WallboardThresholds)


class CampaignConfig(_Model):
    """SMS keyword campaign: texting `keyword` to `service_number` in [start, end) enrols."""

    name: Id
    service_number: NumberKey
    keyword: str = Field(min_length=1, description="Matched case-insensitively, surrounding spaces ignored.")
    start: datetime = Field(description="ISO date-time; without an offset it is in centre.timezone.")
    end: datetime
    reply_enrolled: str | None = Field(
        default=None, description="SMS reply on enrolment; omitted = no reply."
    )
    reply_repeat: str | None = Field(default=None, description="Reply when already enrolled.")
    reply_outside: str | None = Field(default=None, description="Reply outside the window.")

    @field_validator("keyword")
    @classmethod
    def _one_word(cls, v: str) -> str:
        v = v.strip()
        if not v or any(c.isspace() for c in v):
            raise ValueError(f"keyword {v!r} must be one word")
        return v

    @field_validator("keyword", mode="before")
    @classmethod
    def _keyword_str(cls, v: Any) -> Any:
        # `keyword: 2012` is a YAML int; the subscriber texts the characters "2012".
        return _scalar_to_str(v)

    @property
    def keyword_key(self) -> str:
        return self.keyword.casefold()

    def localized(self, tz: ZoneInfo) -> CampaignConfig:
        def aware(t: datetime) -> datetime:
            return t.replace(tzinfo=tz) if t.tzinfo is None else t

        return self.model_copy(update={"start": aware(self.start), "end": aware(self.end)})


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class LoggingConfig(_Model):
    level: Annotated[LogLevel, BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)] = (
        LogLevel.INFO
    )
    json_: bool | None = Field(
        default=None, alias="json", description="null: JSON lines when stderr is not a TTY."
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---------------------------------------------------------------------- the file


class Config(_Model):
    centre: CentreInfo = Field(default_factory=CentreInfo)
    skills: Annotated[list[SkillDecl], BeforeValidator(_skill_decls)] = Field(
        default_factory=list, description="Declared skills; expressions and agents may use only these."
    )
    profiles: dict[Id, ProfileConfig] = Field(
        default_factory=dict, description="Capacity profiles; `voice` (one call) exists unless redefined."
    )
    seat_pools: list[SeatPoolConfig] = Field(
        default_factory=list,
        description="Agents on one Asterisk node/site; none declared: one implicit pool `default`.",
    )
    agents: list[AgentConfig] = Field(default_factory=list)
    agent_groups: list[AgentGroupConfig] = Field(default_factory=list)
    queues: list[QueueConfig] = Field(default_factory=list)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    numbers: dict[NumberKey, NumberRoute] = Field(
        default_factory=dict, description="Dialled number (CCR_NUMBER) -> queue and tags."
    )
    asterisk: list[AsteriskNode] = Field(default_factory=list, description="AMI connections, one per PBX.")
    trunks: list[TrunkConfig] = Field(
        default_factory=list, description="Trunks between Asterisk nodes (dialplans/ccr-trunk.conf)."
    )
    store: StoreConfig = Field(default_factory=StoreConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    wallboard: WallboardConfig = Field(default_factory=WallboardConfig)
    campaigns: list[CampaignConfig] = Field(default_factory=list)
    conversations: ConversationsConfig = Field(default_factory=ConversationsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    announcements: AnnouncementsConfig = Field(default_factory=AnnouncementsConfig)
    callbacks: CallbacksConfig = Field(default_factory=CallbacksConfig)
    accounts: AccountsConfig = Field(default_factory=AccountsConfig)
    pause_reasons: list[PauseReasonConfig] = Field(
        default_factory=list, description="Reasons the desktop offers; none: free text."
    )
    dispositions: dict[Id, DispositionSet] = Field(
        default_factory=dict, description="Queue name -> wrap-up codes for its interactions."
    )
    recording: RecordingConfig = Field(default_factory=RecordingConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)

    _source: str = PrivateAttr("<config>")

    @model_validator(mode="after")
    def _desk_codes_fit(self) -> Self:
        queues = {q.name for q in self.queues}
        unknown = sorted(set(self.dispositions) - queues)
        if unknown:
            raise ValueError(f"dispositions: unknown queue {', '.join(unknown)} (not under queues)")
        codes = [r.code for r in self.pause_reasons]
        dup = sorted({c for c in codes if codes.count(c) > 1})
        if dup:
            raise ValueError(f"pause_reasons: code {', '.join(dup)} given more than once")
        return self

    @property
    def source(self) -> str:
        """The file it was read from."""
        return self._source

    @property
    def skill_names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.skills)

    def all_profiles(self) -> dict[str, ProfileConfig]:
        out = {DEFAULT_PROFILE: ProfileConfig()}
        out.update(self.profiles)
        return out

    def all_pools(self) -> dict[str, SeatPoolConfig]:
        """Declared seat pools, or only the implicit `default` one when none are declared."""
        if not self.seat_pools:
            return {DEFAULT_POOL: SeatPoolConfig(name=DEFAULT_POOL)}
        return {p.name: p for p in self.seat_pools}

    def node_of_pool(self, pool: str) -> str | None:
        """The Asterisk node name for a seat pool (None when no node is configured)."""
        # Asked on every offer: the pools' nodes are read once per config, not rebuilt.
        nodes = self._pool_nodes
        if pool in nodes:
            return nodes[pool]
        return self.asterisk[0].name if self.asterisk else None

    @cached_property
    def _pool_nodes(self) -> dict[str, str]:
        return {name: spec.node for name, spec in self.all_pools().items() if spec.node is not None}

    def trunk_between(self, a: str, b: str) -> TrunkConfig | None:
        for t in self.trunks:
            if {a, b} == set(t.nodes):
                return t
        return None

    def to_centre(self) -> CentreSpec:
        """The `CentreSpec` the routing core consumes (see `cc_router.config.convert.build_centre`)."""
        from cc_router.config.convert import build_centre

        return build_centre(self)
