"""Topic names, all under the configured prefix (`cc-router` by default)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str

    def under(self, suffix: str) -> str:
        return f"{self.prefix}/{suffix}"

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    def queue_state(self, queue: str) -> str:
        return f"{self.prefix}/state/queues/{queue}"

    def agent_state(self, agent_id: str) -> str:
        return f"{self.prefix}/state/agents/{agent_id}"

    @property
    def agent_commands(self) -> str:
        """Filter matching every agent's command topic."""
        return f"{self.prefix}/agents/+/command"

    def agent_result(self, agent_id: str) -> str:
        return f"{self.prefix}/agents/{agent_id}/result"

    def agent_of_command(self, topic: str) -> str | None:
        """The agent id in `{prefix}/agents/{agent_id}/command`, or None for another topic."""
        head = f"{self.prefix}/agents/"
        if not topic.startswith(head) or not topic.endswith("/command"):
            return None
        agent_id = topic[len(head) : -len("/command")]
        return agent_id if agent_id and "/" not in agent_id else None

    @property
    def interaction_commands(self) -> str:
        """Filter matching every interaction's (supervisor) command topic."""
        return f"{self.prefix}/interactions/+/command"

    def interaction_result(self, interaction_id: str) -> str:
        return f"{self.prefix}/interactions/{interaction_id}/result"

    def interaction_of_command(self, topic: str) -> str | None:
        head = f"{self.prefix}/interactions/"
        if not topic.startswith(head) or not topic.endswith("/command"):
            return None
        iid = topic[len(head) : -len("/command")]
        return iid if iid and "/" not in iid else None


def valid_segment(name: str) -> bool:
    """Whether an id can be one topic level (ids come from config, so this is a guard)."""
    return bool(name) and not any(ch in name for ch in "/+#\0")
