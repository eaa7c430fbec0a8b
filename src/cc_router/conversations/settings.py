"""The `conversations:` config section (plain pydantic, imported by the config model)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatTopic(_Model):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    label: str = Field(default="", description="What the customer sees; empty: the name.")
    queue: str = Field(description="A chat queue.")


class ChatConfig(_Model):
    topics: list[ChatTopic] = Field(default_factory=list, description="Topics the widget offers.")
    max_message_chars: int = Field(default=2000, ge=1, le=100_000)
    messages_per_minute: int = Field(default=20, ge=1, description="Per conversation.")
    starts_per_minute: int = Field(default=10, ge=1, description="New chats per client address.")
    leave_grace_s: float = Field(
        default=30.0, ge=0, description="A waiting customer whose page is gone this long has abandoned."
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="Web sites that may embed the widget (CORS); empty: same origin."
    )


class MailRule(_Model):
    to_contains: str = ""
    subject_contains: str = ""
    queue: str


class MailboxConfig(_Model):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    address: str = Field(description="The support address replies are sent from.")
    imap_host: str = "127.0.0.1"
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_tls: bool = True
    username: str
    password: SecretStr
    folder: str = "INBOX"
    queue: str = Field(description="An e-mail queue for messages no rule selects.")
    rules: list[MailRule] = Field(default_factory=list, description="First match wins.")
    poll_s: float = Field(
        default=30.0, gt=0, description="Polling interval, or IDLE renewal when the server has IDLE."
    )
    same_agent_first_s: float = Field(
        default=0.0,
        ge=0,
        le=86_400,
        description="A customer's answer goes first to the agent who last served the thread, "
        "for this long (if logged in), then to the queue; 0: straight to the queue.",
    )


class SmtpConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=587, ge=1, le=65535)
    username: str = ""
    password: SecretStr | None = None
    starttls: bool = True
    tls: bool = False
    timeout_s: float = Field(default=30.0, gt=0)


class ConversationsConfig(_Model):
    retention_days: int = Field(
        default=365, ge=1, description="Closed conversations and their messages are deleted after this."
    )
    chat: ChatConfig = Field(default_factory=ChatConfig)
    mailboxes: list[MailboxConfig] = Field(default_factory=list)
    smtp: SmtpConfig | None = Field(default=None, description="Where agents' e-mail replies are sent.")
    max_attachment_bytes: int = Field(default=10_000_000, ge=0)
    sql_pool_size: int = Field(
        default=40,
        ge=1,
        le=500,
        description="SQL connections kept for customers' and agents' messages (PostgreSQL; "
        "SQLite shares the store's), so a burst of them cannot starve the store's writer.",
    )
