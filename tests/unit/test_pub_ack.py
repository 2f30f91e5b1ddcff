"""The relay's own reading of a JetStream acknowledgement is nats-py's, for every answer."""

from typing import Any

import pytest
from nats.js.api import PubAck

from usersuite.platform.nats.pipeline_context import pub_ack

ANSWERS: list[dict[str, Any]] = [
    {"stream": "USER_V1", "seq": 1},
    {"stream": "USER_V1", "seq": 2, "duplicate": True},
    {"stream": "USER_V1", "seq": 3, "domain": "hub"},
    # Not what a plain publish gets: nats-py's own reading (atomic batches, counters).
    {"stream": "USER_V1", "seq": 4, "batch": "b1", "count": 2},
    {"stream": "USER_V1", "seq": 5, "val": "7"},
]


@pytest.mark.parametrize("answer", ANSWERS, ids=",".join)
def test_an_acknowledgement_reads_as_nats_py_reads_it(answer: dict[str, Any]) -> None:
    assert pub_ack(dict(answer)) == PubAck.from_response(dict(answer))
