from billing.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReserveCredit(_message.Message):
    __slots__ = ("metadata", "command_id", "saga_id", "order", "account", "amount_minor", "currency_code")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SAGA_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    metadata: _events_pb2.EventMetadata
    command_id: str
    saga_id: str
    order: str
    account: str
    amount_minor: int
    currency_code: str
    def __init__(self, metadata: _Optional[_Union[_events_pb2.EventMetadata, _Mapping]] = ..., command_id: _Optional[str] = ..., saga_id: _Optional[str] = ..., order: _Optional[str] = ..., account: _Optional[str] = ..., amount_minor: _Optional[int] = ..., currency_code: _Optional[str] = ...) -> None: ...

class ReleaseCredit(_message.Message):
    __slots__ = ("metadata", "command_id", "saga_id", "order")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SAGA_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    metadata: _events_pb2.EventMetadata
    command_id: str
    saga_id: str
    order: str
    def __init__(self, metadata: _Optional[_Union[_events_pb2.EventMetadata, _Mapping]] = ..., command_id: _Optional[str] = ..., saga_id: _Optional[str] = ..., order: _Optional[str] = ...) -> None: ...

class CreditReserved(_message.Message):
    __slots__ = ("metadata", "command_id", "saga_id", "order", "amount_minor")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SAGA_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    metadata: _events_pb2.EventMetadata
    command_id: str
    saga_id: str
    order: str
    amount_minor: int
    def __init__(self, metadata: _Optional[_Union[_events_pb2.EventMetadata, _Mapping]] = ..., command_id: _Optional[str] = ..., saga_id: _Optional[str] = ..., order: _Optional[str] = ..., amount_minor: _Optional[int] = ...) -> None: ...

class CreditRefused(_message.Message):
    __slots__ = ("metadata", "command_id", "saga_id", "order", "reason")
    class Reason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        REASON_UNSPECIFIED: _ClassVar[CreditRefused.Reason]
        REASON_CREDIT_LIMIT_EXCEEDED: _ClassVar[CreditRefused.Reason]
        REASON_NO_ACCOUNT: _ClassVar[CreditRefused.Reason]
        REASON_ACCOUNT_CLOSED: _ClassVar[CreditRefused.Reason]
        REASON_CURRENCY_MISMATCH: _ClassVar[CreditRefused.Reason]
        REASON_RELEASED: _ClassVar[CreditRefused.Reason]
    REASON_UNSPECIFIED: CreditRefused.Reason
    REASON_CREDIT_LIMIT_EXCEEDED: CreditRefused.Reason
    REASON_NO_ACCOUNT: CreditRefused.Reason
    REASON_ACCOUNT_CLOSED: CreditRefused.Reason
    REASON_CURRENCY_MISMATCH: CreditRefused.Reason
    REASON_RELEASED: CreditRefused.Reason
    METADATA_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SAGA_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    metadata: _events_pb2.EventMetadata
    command_id: str
    saga_id: str
    order: str
    reason: CreditRefused.Reason
    def __init__(self, metadata: _Optional[_Union[_events_pb2.EventMetadata, _Mapping]] = ..., command_id: _Optional[str] = ..., saga_id: _Optional[str] = ..., order: _Optional[str] = ..., reason: _Optional[_Union[CreditRefused.Reason, str]] = ...) -> None: ...

class CreditReleased(_message.Message):
    __slots__ = ("metadata", "command_id", "saga_id", "order")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SAGA_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    metadata: _events_pb2.EventMetadata
    command_id: str
    saga_id: str
    order: str
    def __init__(self, metadata: _Optional[_Union[_events_pb2.EventMetadata, _Mapping]] = ..., command_id: _Optional[str] = ..., saga_id: _Optional[str] = ..., order: _Optional[str] = ...) -> None: ...
