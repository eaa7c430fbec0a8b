"""Frame splitting, UTF-8 across reads, parsing and action encoding."""

from __future__ import annotations

from cc_router.adapters.ami.protocol import FrameSplitter, encode_action, event_name, parse_frame
from tests.ami.conftest import FIXTURES

NAME = "张伟".encode()


def _split_everywhere(data: bytes, lo: int, hi: int) -> None:
    for cut in range(lo, hi + 1):
        s = FrameSplitter()
        s.banner = ""
        frames = s.feed(data[:cut]) + s.feed(data[cut:])
        names = [parse_frame(f).get("CallerName") for f in frames if b"CCREnqueue" in f]
        assert names == ["张伟"], cut


def test_chinese_name_split_at_every_byte_offset() -> None:
    data = (FIXTURES / "a_connect.ami").read_bytes()
    start = data.index(b"CallerName: " + NAME)
    _split_everywhere(data, start, start + len("CallerName: ") + len(NAME) + 4)


def test_banner_then_messages_in_one_byte_reads() -> None:
    data = b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\nEvent: X\r\nA: 1\r\n\r\n"
    s = FrameSplitter()
    frames = [f for b in data for f in s.feed(bytes([b]))]
    assert s.banner == "Asterisk Call Manager/11.0.0"
    assert [parse_frame(f) for f in frames] == [
        {"Response": "Success", "ActionID": "1"},
        {"Event": "X", "A": "1"},
    ]
    assert event_name(frames[1]) == "X" and event_name(frames[0]) is None


def test_parse_first_header_wins_and_empty_values() -> None:
    msg = parse_frame(b"Event: UserEvent\r\nUniqueid: 1.1\r\nAccountCode: \r\nUniqueid: 2.2\r\nValue:x")
    assert msg == {"Event": "UserEvent", "Uniqueid": "1.1", "AccountCode": "", "Value": "x"}


def test_bad_utf8_is_replaced_not_fatal() -> None:
    assert parse_frame(b"Event: X\r\nName: \xe5\xbc")["Name"] == "\ufffd"


def test_encode_repeats_list_headers_and_strips_newlines() -> None:
    raw = encode_action({"Action": "Originate", "Variable": ["A=1", "B=2"], "CallerID": "x\r\ny"})
    assert raw == b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\nCallerID: x  y\r\n\r\n"


def test_whole_fixtures_parse() -> None:
    for path in FIXTURES.glob("*.ami"):
        s = FrameSplitter()
        s.banner = ""
        frames = s.feed(path.read_bytes())
        assert frames and all(parse_frame(f) for f in frames), path.name
