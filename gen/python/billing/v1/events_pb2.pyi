import datetime

from billing.v1 import billing_pb2 as _billing_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
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

class AccountOpened(_message.Message):
    __slots__ = ("metadata", "account")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    metadata: EventMetadata
    account: _billing_pb2.Account
    def __init__(self, metadata: _Optional[_Union[EventMetadata, _Mapping]] = ..., account: _Optional[_Union[_billing_pb2.Account, _Mapping]] = ...) -> None: ...

class AccountClosed(_message.Message):
    __slots__ = ("metadata", "account")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    metadata: EventMetadata
    account: _billing_pb2.Account
    def __init__(self, metadata: _Optional[_Union[EventMetadata, _Mapping]] = ..., account: _Optional[_Union[_billing_pb2.Account, _Mapping]] = ...) -> None: ...

class CreditLimitChanged(_message.Message):
    __slots__ = ("metadata", "account", "previous_credit_limit_minor")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_CREDIT_LIMIT_MINOR_FIELD_NUMBER: _ClassVar[int]
    metadata: EventMetadata
    account: _billing_pb2.Account
    previous_credit_limit_minor: int
    def __init__(self, metadata: _Optional[_Union[EventMetadata, _Mapping]] = ..., account: _Optional[_Union[_billing_pb2.Account, _Mapping]] = ..., previous_credit_limit_minor: _Optional[int] = ...) -> None: ...
