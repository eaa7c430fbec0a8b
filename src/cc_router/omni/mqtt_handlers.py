"""Tasks over MQTT.

- `{prefix}/tasks/submit`: a task submission (JSON as for POST /api/tasks) plus `token`
  and optional `client_ref`; the result goes to `{prefix}/tasks/result/{task_id or
  client_ref}`: `{"ok": true, "task_id": ..., "status": ..., "created": ...}` or
  `{"ok": false, "status": 422, "error": ...}`.
- `{prefix}/agents/{agent_id}/offers`: offers to the agent's desktop (QoS 1): `{"type":
  "offer", offer_id, task_id, channel, queue, timeout_s, expires_at, task}` and `{"type":
  "closed", offer_id, task_id, reason}` when it is accepted, cancelled or timed out.
- `{prefix}/agents/{agent_id}/tasks/{task_id}/{accept|reject|complete}`: `{"token",
  "disposition"?, "request_id"?}`; result on `{prefix}/agents/{agent_id}/tasks/{task_id}/result`.

Tokens: the control API token (`http.token` / CC_ROUTER_API_TOKEN), as for the MQTT
agent commands; with none configured the commands are refused.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

import structlog
from pydantic import ValidationError

from cc_router.accounts.access import refusal, resolve
from cc_router.config import environment
from cc_router.mqtt.component import MqttComponent
from cc_router.omni.intake import TaskIntake
from cc_router.omni.offers import DesktopOffer, OfferBoard
from cc_router.omni.tasks import TaskError, TaskSubmission, validation_message

log = structlog.get_logger("cc_router.omni.mqtt")

MAX_PAYLOAD = 1_000_000
_REF_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:@-")


def _segment_ok(s: str) -> bool:
    return 0 < len(s) <= 128 and all(c in _REF_OK for c in s)


class MqttTasks:
    def __init__(self, mqtt: MqttComponent, intake: TaskIntake, board: OfferBoard) -> None:
        self.mqtt = mqtt
        self.intake = intake
        self.board = board
        self.topics = mqtt.topics
        self._token = environment.api_token(intake.service.config.http.token)
        self._pending: set[asyncio.Task[None]] = set()

    def attach(self) -> None:
        self.mqtt.add_handler(self.topics.under("tasks/submit"), self.on_submit)
        self.mqtt.add_handler(self.topics.under("agents/+/tasks/+/+"), self.on_action)
        self.board.listeners.append(self.on_offer_change)

    def _authorised(self, data: dict[str, Any], agent_id: str | None = None) -> bool:
        """The machine token (admin), or a login allowed to act on `agent_id` (None: admin only)."""
        given = data.pop("token", None)
        if not isinstance(given, str) or not given:
            return False
        if self._token is not None and hmac.compare_digest(given.encode(), self._token.encode()):
            return True
        service = self.intake.service
        p = resolve(service, given)  # as over HTTP: nothing configured, no control
        return p is not None and refusal(service, p, agent_id=agent_id) is None

    # ------------------------------------------------------------ offers out

    def on_offer_change(self, kind: str, offer: DesktopOffer, reason: str) -> None:
        topic = self.topics.under(f"agents/{offer.agent_id}/offers")
        if kind == "offer":
            self.mqtt.publish(topic, {"type": "offer", **offer.payload()}, qos=1)
        else:
            self.mqtt.publish(
                topic,
                {"type": "closed", "offer_id": offer.offer_id, "task_id": offer.task_id, "reason": reason},
                qos=1,
            )

    # ------------------------------------------------------------ submissions in

    async def on_submit(self, topic: str, payload: bytes) -> None:
        # The insert is awaited; the receive loop must not wait for it.
        task = asyncio.create_task(self._submit(payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _submit(self, payload: bytes) -> None:
        ref = ""
        try:
            if len(payload) > MAX_PAYLOAD:
                raise TaskError(413, f"payload larger than {MAX_PAYLOAD} bytes")
            try:
                data = json.loads(payload.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise TaskError(400, f"payload is not UTF-8 JSON: {e}") from None
            if not isinstance(data, dict):
                raise TaskError(400, "payload must be a JSON object")
            raw_ref = data.pop("client_ref", None)
            ref = str(raw_ref) if raw_ref is not None else str(data.get("task_id") or "")
            if not self._authorised(data):
                raise TaskError(401, "missing or wrong token")
            try:
                sub = TaskSubmission.model_validate(data)
            except ValidationError as e:
                raise TaskError(422, validation_message(e)) from None
            stored, created = await self.intake.submit(sub, "mqtt")
            ref = ref or stored.task_id
            result: dict[str, Any] = {
                "ok": True,
                "task_id": stored.task_id,
                "status": stored.status,
                "created": created,
            }
        except TaskError as e:
            result = {"ok": False, "status": e.status, "error": e.message}
            log.warning("mqtt_task_refused", status=e.status, error=e.message, ref=ref or None)
        if raw_ok := _segment_ok(ref):
            result["ref"] = ref
        self.mqtt.publish(self.topics.under(f"tasks/result/{ref if raw_ok else '_invalid'}"), result, qos=1)

    # ------------------------------------------------------------ agent actions in

    async def on_action(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) < 5 or parts[-5] != "agents" or parts[-3] != "tasks":
            return
        agent_id, task_id, verb = parts[-4], parts[-2], parts[-1]
        if verb not in ("accept", "reject", "complete"):
            return
        result_topic = self.topics.under(f"agents/{agent_id}/tasks/{task_id}/result")
        result: dict[str, Any] = {"task_id": task_id, "agent_id": agent_id, "action": verb}
        try:
            try:
                data = json.loads(payload.decode("utf-8")) if payload else {}
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise TaskError(400, f"payload is not UTF-8 JSON: {e}") from None
            if not isinstance(data, dict):
                raise TaskError(400, "payload must be a JSON object")
            if "request_id" in data:
                result["request_id"] = str(data["request_id"])[:128]
            if not self._authorised(data, agent_id):
                raise TaskError(401, "missing or wrong token, or not this agent's")
            disposition = data.get("disposition", "")
            if not isinstance(disposition, str) or len(disposition) > 128:
                raise TaskError(422, "disposition must be a string of at most 128 characters")
            if verb == "accept":
                self.intake.accept(task_id, agent_id)
            elif verb == "reject":
                self.intake.reject(task_id, agent_id)
            else:
                self.intake.complete(task_id, agent_id, disposition)
            result["ok"] = True
        except TaskError as e:
            result.update(ok=False, status=e.status, error=e.message)
            log.warning(
                "mqtt_task_action_refused", task_id=task_id, agent_id=agent_id, action=verb, error=e.message
            )
        self.mqtt.publish(result_topic, result, qos=1)
