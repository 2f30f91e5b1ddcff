import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from user.v1 import user_pb2 as _user_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventMetadata(_message.Message):
    __slots__ = ("event_id", "occurred_time", "aggregate_name", "aggregate_version", "principal")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_TIME_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_NAME_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_time: _timestamp_pb2.Timestamp
    aggregate_name: str
    aggregate_version: int
    principal: str
    def __init__(self, event_id: _Optional[str] = ..., occurred_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., aggregate_name: _Optional[str] = ..., aggregate_version: _Optional[int] = ..., principal: _Optional[str] = ...) -> None: ...

class UserCreated(_message.Message):
    __slots__ = ("metadata", "user")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    metadata: EventMetadata
    user: _user_pb2.User
    def __init__(self, metadata: _Optional[_Union[EventMetadata, _Mapping]] = ..., user: _Optional[_Union[_user_pb2.User, _Mapping]] = ...) -> None: ...

class UserUpdated(_message.Message):
    __slots__ = ("metadata", "user", "changed_fields")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    metadata: EventMetadata
    user: _user_pb2.User
    changed_fields: _field_mask_pb2.FieldMask
    def __init__(self, metadata: _Optional[_Union[EventMetadata, _Mapping]] = ..., user: _Optional[_Union[_user_pb2.User, _Mapping]] = ..., changed_fields: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UserDeleted(_message.Message):
    __slots__ = ("metadata", "name")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    metadata: EventMetadata
    name: str
    def __init__(self, metadata: _Optional[_Union[EventMetadata, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...
