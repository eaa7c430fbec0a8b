"""MQTT adapter (aiomqtt 2.x): agent desktops and dashboards on a broker.

Enabled by `mqtt.enabled` (off by default: the service then needs no broker). Wiring:
`attach_mqtt(service)` adds `MqttComponent` as a component (`name="mqtt"`), a listener and
a command sink, and puts it in `service.parts.mqtt` (`.connected` for /readyz).

Topics (`{prefix}` = `mqtt.topic_prefix`, default `cc-router`):

- `{prefix}/status` (retained): `online`, or `offline` (the broker's will when we vanish).
- `{prefix}/state/queues/{queue}`, `{prefix}/state/agents/{agent_id}` (retained, QoS 1):
  JSON from `LiveView`, with `version` (per topic, grows on each change) and
  `global_version`; at most one publish per topic per 200 ms; republished in full after
  every (re)connect (the broker may have lost them); emptied when the queue/agent is gone.
  See `cc_router.mqtt.state`.
- `{prefix}/events` (QoS 0, not retained): one JSON object per offer, cancelled offer,
  connected, finished, exit and agent state change (`type` field; ids, no caller numbers).
- `{prefix}/agents/{agent_id}/command` → `{prefix}/agents/{agent_id}/result`: desktop
  commands (login, ready, pause, unpause, logout) and their results; payloads and
  authorisation in `cc_router.mqtt.agent_commands`.

The connection: aiomqtt does not reconnect, so `MqttComponent.run` loops with
exponential backoff (0.2 s doubling to 30 s) on `MqttError`, re-subscribing and
republishing all retained state each time. The command sink never blocks routing: it marks
dirty topics and queues event messages for the publisher task.

Extending it (e.g. task offers over MQTT), from another module handed the component
(wiring.py passes it on):

    mqtt.add_handler(mqtt.topics.under("agents/+/offer/+"), on_offer_reply)
    # async def on_offer_reply(topic: str, payload: bytes) -> None — must be quick
    mqtt.publish(mqtt.topics.under(f"agents/{agent_id}/offer/{offer_id}"), {...}, qos=1)

`add_handler` filters are (re)subscribed on every connect; `publish` queues (bounded
outbox, oldest dropped when the broker is away for long) and never blocks. A handler that
raises is logged and the connection carries on.
"""

from cc_router.mqtt.component import Handler, MqttComponent, attach_mqtt
from cc_router.mqtt.topics import Topics

__all__ = ["Handler", "MqttComponent", "Topics", "attach_mqtt"]
