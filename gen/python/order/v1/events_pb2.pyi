import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from order.v1 import order_pb2 as _order_pb2
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

class OrderCreated(_message.Message):
    __slots__ = ("metadata", "order")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    metadata: EventMetadata
    order: _order_pb2.Order
    def __init__(self, metadata: _Optional[_Union[EventMetadata, _Mapping]] = ..., order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ...) -> None: ...

class OrderApproved(_message.Message):
    __slots__ = ("metadata", "order")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    metadata: EventMetadata
    order: _order_pb2.Order
    def __init__(self, metadata: _Optional[_Union[EventMetadata, _Mapping]] = ..., order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ...) -> None: ...

class OrderRejected(_message.Message):
    __slots__ = ("metadata", "order", "reason")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    metadata: EventMetadata
    order: _order_pb2.Order
    reason: _order_pb2.Order.RejectionReason
    def __init__(self, metadata: _Optional[_Union[EventMetadata, _Mapping]] = ..., order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ..., reason: _Optional[_Union[_order_pb2.Order.RejectionReason, str]] = ...) -> None: ...

class OrderCancelled(_message.Message):
    __slots__ = ("metadata", "order")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    metadata: EventMetadata
    order: _order_pb2.Order
    def __init__(self, metadata: _Optional[_Union[EventMetadata, _Mapping]] = ..., order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ...) -> None: ...
