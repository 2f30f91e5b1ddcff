"""The one mapping between order.v1 / billing.v1 saga protobufs and orders' domain types."""

from google.protobuf.message import Message

from billing.v1 import events_pb2 as billing_events_pb2
from billing.v1 import saga_pb2
from order.v1 import events_pb2, order_pb2
from usersuite.orders.domain.events import CommandSent, OrderChange, OrderEvent, OutboxMessage
from usersuite.orders.domain.messages import (
    CreditRefused,
    CreditReleased,
    CreditReply,
    CreditReserved,
    RefusalReason,
    ReleaseCredit,
    ReserveCredit,
)
from usersuite.orders.domain.order import Order
from usersuite.orders.service.commands import NewLineItem
from usersuite.platform.domain.errors import FieldViolation, ValidationFailed
from usersuite.platform.domain.resource_ids import check_resource_id
from usersuite.platform.grpc.timestamps import metadata_to_proto, set_time

NAME_PREFIX = "orders/"
MAX_SHOWN = 80


def order_to_proto(order: Order) -> order_pb2.Order:
    proto = order_pb2.Order(
        name=order.name,
        user=order.user,
        line_items=[
            order_pb2.LineItem(
                sku=item.sku, quantity=item.quantity, unit_price_minor=item.unit_price_minor
            )
            for item in order.line_items
        ],
        currency_code=order.currency_code,
        total_minor=order.total_minor,
        state=f"STATE_{order.state.value}",
        etag=order.etag,
    )
    if order.rejection_reason is not None:
        proto.rejection_reason = order_pb2.Order.RejectionReason.Value(
            f"REJECTION_REASON_{order.rejection_reason.value}"
        )  # type: ignore[assignment]
    set_time(proto.create_time, order.create_time)
    set_time(proto.update_time, order.update_time)
    return proto


def line_items_from_proto(order: order_pb2.Order) -> tuple[NewLineItem, ...]:
    return tuple(
        NewLineItem(item.sku, item.quantity, item.unit_price_minor) for item in order.line_items
    )


def order_id_from_name(name: str, field: str = "name") -> str:
    """The order id of `orders/{order_id}`; INVALID_ARGUMENT if malformed."""
    order_id = name.removeprefix(NAME_PREFIX)
    shown = name if len(name) <= MAX_SHOWN else name[:MAX_SHOWN] + "..."
    if not name.startswith(NAME_PREFIX) or not order_id or "/" in order_id:
        raise ValidationFailed(
            [
                FieldViolation(
                    field, f"{field} must have the form orders/{{order_id}}, got {shown!r}"
                )
            ]
        )
    try:
        return check_resource_id(order_id, allow_generated=True)
    except ValueError as exc:
        raise ValidationFailed([FieldViolation(field, f"{field}: the order id {exc}")]) from None


def _order_event(event: OrderEvent) -> Message:
    meta, order = (
        metadata_to_proto(events_pb2.EventMetadata, event.metadata),
        order_to_proto(event.order),
    )
    match event.change:
        case OrderChange.CREATED:
            return events_pb2.OrderCreated(metadata=meta, order=order)
        case OrderChange.APPROVED:
            return events_pb2.OrderApproved(metadata=meta, order=order)
        case OrderChange.REJECTED:
            return events_pb2.OrderRejected(
                metadata=meta, order=order, reason=order.rejection_reason
            )
        case OrderChange.CANCELLED:
            return events_pb2.OrderCancelled(metadata=meta, order=order)


def _command(sent: CommandSent) -> Message:
    meta, command = metadata_to_proto(billing_events_pb2.EventMetadata, sent.metadata), sent.command
    if isinstance(command, ReserveCredit):
        return saga_pb2.ReserveCredit(
            metadata=meta,
            command_id=command.command_id,
            saga_id=command.saga_id,
            order=command.order,
            account=command.account,
            amount_minor=command.amount_minor,
            currency_code=command.currency_code,
        )
    assert isinstance(command, ReleaseCredit)
    return saga_pb2.ReleaseCredit(
        metadata=meta, command_id=command.command_id, saga_id=command.saga_id, order=command.order
    )


def encode_message(message: OutboxMessage) -> tuple[str, bytes]:
    """(the message's full protobuf name, its serialized protobuf) for the outbox."""
    proto = _order_event(message) if isinstance(message, OrderEvent) else _command(message)
    return proto.DESCRIPTOR.full_name, proto.SerializeToString(deterministic=True)


# The replies the orders consumer subscribes to, by subject.
REPLY_SUBJECTS = (
    saga_pb2.CreditReserved.DESCRIPTOR.full_name,
    saga_pb2.CreditRefused.DESCRIPTOR.full_name,
    saga_pb2.CreditReleased.DESCRIPTOR.full_name,
)


def reply_from_proto(message: Message) -> CreditReply | None:
    """Billing's reply in orders' words; None for a message that is no reply to orders."""
    match message:
        case saga_pb2.CreditReserved():
            return CreditReserved(
                message.command_id, message.saga_id, message.order, message.amount_minor
            )
        case saga_pb2.CreditRefused():
            name = saga_pb2.CreditRefused.Reason.Name(message.reason).removeprefix("REASON_")
            if name not in RefusalReason.__members__:
                return None
            return CreditRefused(
                message.command_id, message.saga_id, message.order, RefusalReason[name]
            )
        case saga_pb2.CreditReleased():
            return CreditReleased(message.command_id, message.saga_id, message.order)
    return None
