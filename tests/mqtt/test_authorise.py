from __future__ import annotations

import pytest
from pydantic import SecretStr

from cc_router.mqtt.agent_commands import AgentCommand, CommandError, authorise


def command(token: str | None) -> AgentCommand:
    return AgentCommand.model_validate({"action": "login", **({"token": token} if token else {})})


def test_no_configured_token_refuses_every_command() -> None:
    with pytest.raises(CommandError, match="disabled"):
        authorise(command("anything"), None)


@pytest.mark.parametrize(("given", "message"), [(None, "token required"), ("wrong", "bad token")])
def test_wrong_or_missing_token_is_refused(given: str | None, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        authorise(command(given), SecretStr("s3cret"))


def test_right_token_passes() -> None:
    authorise(command("s3cret"), SecretStr("s3cret"))
