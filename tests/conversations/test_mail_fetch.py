"""Reading a batched FETCH response: each literal goes to the UID its message names,
whether the server puts the UID before the literal or after it."""

from __future__ import annotations

from cc_router.conversations.mail_in import fetched


def test_uid_before_the_literal() -> None:
    lines = [
        b"1 FETCH (UID 12 BODY[] {5}",
        bytearray(b"first"),
        b")",
        b"2 FETCH (UID 15 BODY[] {6}",
        bytearray(b"second"),
        b")",
        b"Fetch completed (0.001 + 0.000 secs).",
    ]
    assert fetched(lines) == {"12": b"first", "15": b"second"}


def test_uid_after_the_literal() -> None:
    lines = [
        b"1 FETCH (BODY[] {5}",
        bytearray(b"first"),
        b" UID 12)",
        b"2 FETCH (BODY[] {6}",
        bytearray(b"second"),
        b" UID 15)",
        b"OK",
    ]
    assert fetched(lines) == {"12": b"first", "15": b"second"}


def test_a_message_without_a_uid_is_left_out() -> None:
    assert fetched([b"1 FETCH (BODY[] {1}", bytearray(b"x"), b")"]) == {}
