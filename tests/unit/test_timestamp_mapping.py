"""The hand-made Timestamp mapping agrees with protobuf's own FromDatetime."""

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from usersuite.platform.grpc.timestamps import timestamp
from usersuite.users.api.mapping import user_to_proto
from usersuite.users.domain.model import User

AWARE = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                               timezone(-timedelta(hours=8))]),
)  # fmt: skip


@given(AWARE)
def test_timestamp_equals_protobufs_from_datetime(value: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(value)
    assert timestamp(value) == expected


@given(AWARE, AWARE)
def test_user_times_equal_protobufs_from_datetime(created: datetime, updated: datetime) -> None:
    proto = user_to_proto(User("ada", "Ada", "ada@example.com", created, updated, 1))
    expected_created, expected_updated = Timestamp(), Timestamp()
    expected_created.FromDatetime(created)
    expected_updated.FromDatetime(updated)
    assert (proto.create_time, proto.update_time) == (expected_created, expected_updated)
