"""Commands: what a caller asks the orders service to do, with request field paths."""

from dataclasses import dataclass


@dataclass(frozen=True)
class NewLineItem:
    sku: str
    quantity: int
    unit_price_minor: int


@dataclass(frozen=True)
class CreateOrder:
    user: str
    line_items: tuple[NewLineItem, ...]
    currency_code: str
    order_id: str = ""
    request_id: str = ""
    principal: str = ""


@dataclass(frozen=True)
class GetOrder:
    order_id: str


@dataclass(frozen=True)
class ListOrders:
    page_size: int = 0
    page_token: str = ""
    user: str = ""


@dataclass(frozen=True)
class CancelOrder:
    order_id: str
    etag: str = ""
    request_id: str = ""
    principal: str = ""
