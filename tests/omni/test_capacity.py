"""Mixed-channel capacity and blocking, on the pure core with the test centre's profiles.

a1 `voice_chat`: voice 1 + chat 2, a call blocks written work except chat.
a2 `blended`: voice 1 + chat 3, default blocks (a call blocks everything, anything blocks calls).
b1 `back_office`: email 2, fax 1, sms 3, never voice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.spec import CentreSpec, Channel

from .conftest import centre_config

CENTRE: CentreSpec = centre_config().to_centre()
QUEUE_OF = {Channel.VOICE: "voice_zh", Channel.CHAT: "chat_zh", Channel.EMAIL: "email_service",
            Channel.SMS: "sms_marketing", Channel.FAX: "fax_orders"}  # fmt: skip


class Desk:
    """Drives a Router like the adapters do and remembers what it was told."""

    def __init__(self) -> None:
        self.router = Router(CENTRE)
        self.now = 1000.0
        self.ids = count(1)
        self.offers: dict[str, cmd.Offer] = {}

    def send(self, event: ev.Event) -> list[cmd.Command]:
        out = self.router.handle(event, self.now)
        for c in out:
            if isinstance(c, cmd.Offer):
                self.offers[c.interaction_id] = c
        return out

    def arrive(self, channel: Channel) -> tuple[str, list[cmd.Command]]:
        iid = f"{channel}-{next(self.ids)}"
        return iid, self.send(ev.InteractionArrived(iid, QUEUE_OF[channel]))

    def take(self, channel: Channel) -> str:
        """An interaction of `channel` arrives and is accepted by whoever is offered it."""
        iid, out = self.arrive(channel)
        offers = [c for c in out if isinstance(c, cmd.Offer)]
        assert offers, f"{channel} was not offered to anyone"
        self.send(ev.OfferAccepted(iid, offers[0].agent_id))
        return offers[0].agent_id

    def offered_to(self, out: list[cmd.Command]) -> list[str]:
        return [c.agent_id for c in out if isinstance(c, cmd.Offer)]


def test_agent_on_a_call_still_takes_chats_where_the_profile_allows() -> None:
    d = Desk()
    d.send(ev.AgentLoggedIn("a1"))
    assert d.take(Channel.VOICE) == "a1"
    assert d.take(Channel.CHAT) == "a1"  # alongside the call
    assert d.take(Channel.CHAT) == "a1"
    _, out = d.arrive(Channel.CHAT)  # chat capacity 2 reached
    assert d.offered_to(out) == []
    _, out = d.arrive(Channel.EMAIL)  # voice_chat has no e-mail capacity at all
    assert d.offered_to(out) == []


def test_chats_do_not_stop_a_call_for_voice_chat_profile() -> None:
    d = Desk()
    d.send(ev.AgentLoggedIn("a1"))
    assert d.take(Channel.CHAT) == "a1"
    assert d.take(Channel.VOICE) == "a1"


def test_blended_profile_call_blocks_chat_and_chat_blocks_call() -> None:
    d = Desk()
    d.send(ev.AgentLoggedIn("a2"))
    call = "voice-1"
    assert d.take(Channel.VOICE) == "a2"
    chat, out = d.arrive(Channel.CHAT)
    assert d.offered_to(out) == []  # blocked while on the call
    out = d.send(ev.InteractionEnded(call))
    assert d.offered_to(out) == ["a2"]  # the waiting chat comes as soon as the call ends
    d.send(ev.OfferAccepted(chat, "a2"))
    _, out = d.arrive(Channel.VOICE)
    assert d.offered_to(out) == []  # and a chat blocks calls under the default rules


def test_back_office_profile_is_written_work_only() -> None:
    d = Desk()
    d.send(ev.AgentLoggedIn("b1"))
    _, out = d.arrive(Channel.VOICE)
    assert d.offered_to(out) == []
    assert d.take(Channel.EMAIL) == "b1"
    assert d.take(Channel.EMAIL) == "b1"
    _, out = d.arrive(Channel.EMAIL)
    assert d.offered_to(out) == []  # e-mail capacity 2
    assert d.take(Channel.FAX) == "b1"
    _, out = d.arrive(Channel.FAX)
    assert d.offered_to(out) == []  # fax capacity 1
    assert d.take(Channel.SMS) == "b1"  # default blocks: written work blocks only voice


def test_timed_out_reservation_returns_the_task_to_its_place() -> None:
    d = Desk()
    d.send(ev.AgentLoggedIn("b1"))
    first, out = d.arrive(Channel.EMAIL)
    assert d.offered_to(out) == ["b1"]
    d.now += 1
    second, _ = d.arrive(Channel.EMAIL)
    assert d.router.position(second) == 1  # the only one waiting while first is offered
    d.now += 120 + 2 + 0.01  # ring_timeout_s + offer_grace_s
    out = d.send(ev.Tick())
    assert [c.reason for c in out if isinstance(c, cmd.CancelOffer)] == ["timeout"]
    # b1 missed `first`, so it is offered `second`; `first` is back at the head of the queue.
    assert d.offered_to(out) == ["b1"] and d.offers[second].agent_id == "b1"
    assert d.router.position(first) == 1


# ---------------------------------------------------------------------- property

AGENTS = ("a1", "a2", "b1")
OPS = ("login", "logout", "pause", "unpause", "arrive", "accept", "decline", "end", "transfer", "abandon",
       "tick", "wrap_done", "device")  # fmt: skip
step = st.tuples(st.sampled_from(OPS), st.integers(0, 1 << 16), st.sampled_from(list(Channel)),
                 st.floats(0, 40, allow_nan=False))  # fmt: skip


class LoadModel:
    """Per-agent load rebuilt only from commands, checked against the profiles."""

    def __init__(self) -> None:
        self.connected: dict[str, Counter[Channel]] = defaultdict(Counter)
        self.holder: dict[str, tuple[str, Channel]] = {}
        self.pending: dict[str, cmd.Offer] = {}  # by interaction

    def check(self, out: list[cmd.Command]) -> None:
        for c in out:
            if isinstance(c, cmd.Offer):
                assert all(o.agent_id != c.agent_id for o in self.pending.values()), "two offers to one agent"
                profile = CENTRE.profiles[next(a.profile for a in CENTRE.agents if a.id == c.agent_id)]
                load = self.connected[c.agent_id]
                assert load[c.channel] + 1 <= profile.capacity.get(c.channel, 0), (c, load)
                for ch, n in load.items():
                    if n:
                        assert c.channel not in profile.blocks.get(ch, frozenset()), (c, load)
                self.pending[c.interaction_id] = c
            elif isinstance(c, cmd.CancelOffer | cmd.InteractionQueued):
                self.pending.pop(c.interaction_id, None)
            elif isinstance(c, cmd.InteractionConnected):
                self.pending.pop(c.interaction_id, None)
                self.connected[c.agent_id][c.channel] += 1
                self.holder[c.interaction_id] = (c.agent_id, c.channel)
                agent = next(a for a in CENTRE.agents if a.id == c.agent_id)
                cap = CENTRE.profiles[agent.profile].capacity.get(c.channel, 0)
                assert self.connected[c.agent_id][c.channel] <= cap
            elif isinstance(c, cmd.InteractionFinished):
                self.pending.pop(c.interaction_id, None)
                held = self.holder.pop(c.interaction_id, None)
                if held is not None:
                    self.connected[held[0]][held[1]] -= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=120))
def test_capacity_and_blocks_never_exceeded_under_random_mixed_load(
    steps: list[tuple[str, int, Channel, float]],
) -> None:
    d = Desk()
    model = LoadModel()
    live: list[str] = []
    for op, n, channel, dt in steps:
        agent = AGENTS[n % len(AGENTS)]
        d.now += dt
        event: ev.Event
        if op == "login":
            event = ev.AgentLoggedIn(agent)
        elif op == "logout":
            event = ev.AgentLoggedOut(agent)
        elif op == "pause":
            event = ev.AgentPaused(agent, "break", max_s=float(n % 60) or None)
        elif op == "unpause":
            event = ev.AgentUnpaused(agent)
        elif op == "arrive":
            iid = f"i{len(live)}"
            live.append(iid)
            event = ev.InteractionArrived(iid, QUEUE_OF[channel], priority=n % 3)
        elif op in ("accept", "decline"):
            if not model.pending:
                continue
            offer = list(model.pending.values())[n % len(model.pending)]
            event = (ev.OfferAccepted(offer.interaction_id, offer.agent_id) if op == "accept"
                     else ev.OfferDeclined(offer.interaction_id, offer.agent_id, "rejected"))  # fmt: skip
        elif op in ("end", "transfer", "abandon"):
            if not live:
                continue
            iid = live[n % len(live)]
            if op == "end":
                event = ev.InteractionEnded(iid, "done")
            elif op == "abandon":
                event = ev.InteractionAbandoned(iid)
            else:
                held = model.holder.get(iid)
                queue = QUEUE_OF[held[1]] if held else "chat_vip"
                event = ev.InteractionTransferred(iid, "chat_vip" if queue == "chat_zh" else queue)
        elif op == "wrap_done":
            event = ev.AgentWrapUpDone(agent)
        elif op == "device":
            event = ev.AgentDeviceChanged(agent, in_use=bool(n & 1))
        else:
            event = ev.Tick()
        model.check(d.send(event))
    # Whatever the core holds now agrees with what the commands said.
    for a in AGENTS:
        rec = d.router.agents[a]
        connected = Counter(rec.connected.values())
        assert {k: v for k, v in connected.items() if v} == {k: v for k, v in model.connected[a].items() if v}
        for ch, n in rec.load.items():
            assert 0 <= n <= rec.profile.capacity.get(ch, 0)
