from orders.models.accounts import Account, ApiKey
from orders.models.instruments import VENUES, Instrument
from orders.models.orders import Actor, Fill, Order, OrderAttempt, OrderEvent, OrderState

__all__ = [
    "VENUES",
    "Account",
    "Actor",
    "ApiKey",
    "Fill",
    "Instrument",
    "Order",
    "OrderAttempt",
    "OrderEvent",
    "OrderState",
]
