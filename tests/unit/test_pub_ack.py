"""The relay's own reading of a JetStream acknowledgement is nats-py's, for every answer."""

import asyncio
import json
from typing import Any

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import Header, PubAck
from nats.js.errors import APIError, BadRequestError, NoStreamResponseError, ServiceUnavailableError

from usersuite.platform.nats.pipeline_context import (
    PLAIN_ACK,
    PipelineContext,
    pub_ack,
    read_ack,
)

ANSWERS: list[dict[str, Any]] = [
    {"stream": "USER_V1", "seq": 1},
    {"stream": "USER_V1", "seq": 2, "duplicate": True},
    {"stream": "USER_V1", "seq": 3, "domain": "hub"},
    # Not what a plain publish gets: nats-py's own reading (atomic batches, counters).
    {"stream": "USER_V1", "seq": 4, "batch": "b1", "count": 2},
    {"stream": "USER_V1", "seq": 5, "val": "7"},
]

# Answers exactly as nats-server 2.15 writes them (note the space in a duplicate's).
WIRE = [
    (b'{"stream":"USER_V1","seq":1}', True),
    (b'{"stream":"USER_V1","seq":18446744073709551615}', True),
    (b'{"stream":"USER_V1","seq":1,"duplicate": true}', True),
    (b'{"stream":"USER_V1","seq":1,"duplicate":true}', True),
    (b'{"stream":"USER_V1","seq":3,"domain":"hub"}', False),
    (b'{"stream":"USER_V1","seq":4,"batch":"b1","count":2}', False),
    (b'{"stream":"S\\"Q","seq":5}', False),  # an escaped name is json's to read
    (b'{"stream": "USER_V1", "seq": 6}', False),
]


def reply(data: bytes, headers: dict[str, str] | None = None, subject: str = "_INBOX.x.1") -> Msg:
    return Msg(_client=Client(), subject=subject, data=data, headers=headers)


@pytest.mark.parametrize("answer", ANSWERS, ids=",".join)
def test_an_acknowledgement_reads_as_nats_py_reads_it(answer: dict[str, Any]) -> None:
    assert pub_ack(dict(answer)) == PubAck.from_response(dict(answer))


@pytest.mark.parametrize(("data", "plain"), WIRE, ids=[d.decode() for d, _ in WIRE])
def test_an_answer_on_the_wire_reads_as_nats_py_reads_it(data: bytes, plain: bool) -> None:
    assert read_ack(reply(data)) == PubAck.from_response(json.loads(data))
    # The common answers take the short way, the rest json's.
    assert (PLAIN_ACK.fullmatch(data) is not None) is plain


def test_a_refusal_raises_its_error_class_with_its_code() -> None:
    wrong_last = b'{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: b"},"stream":"S","seq":0}'  # noqa: E501
    with pytest.raises(BadRequestError) as refused:
        read_ack(reply(wrong_last))
    assert refused.value.err_code == 10070
    unavailable = b'{"error":{"code":503,"err_code":10008,"description":"unavailable"}}'
    with pytest.raises(ServiceUnavailableError):
        read_ack(reply(unavailable))


def test_no_stream_answers_as_no_responders() -> None:
    with pytest.raises(NoStreamResponseError):
        read_ack(reply(b"", {Header.STATUS: "503"}))


def test_an_unreadable_answer_raises_rather_than_reading_as_an_ack() -> None:
    with pytest.raises(json.JSONDecodeError):
        read_ack(reply(b'{"stream":"S",'))


async def test_an_unreadable_answer_fails_its_publish_and_never_nats_py_s_read_loop() -> None:
    js = PipelineContext(Client(), max_in_flight=10)
    js._publish_async_futures = {"1": asyncio.get_running_loop().create_future()}
    refused = asyncio.get_running_loop().create_future()
    js._publish_async_futures["2"] = refused
    js._reply(reply(b"not json", subject="_INBOX.x.y.1"))  # raises nothing
    js._reply(reply(b'{"error":{"code":503,"err_code":10008}}', subject="_INBOX.x.y.2"))
    js._reply(reply(b'{"stream":"S","seq":1}', subject="_INBOX.x.y.3"))  # no such publish
    with pytest.raises(json.JSONDecodeError):
        await js._publish_async_futures["1"]
    with pytest.raises(APIError):
        await refused
