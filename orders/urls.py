from django.urls import path

from orders.apis import (
    ActiveOrdersApi,
    OrderCancelApi,
    OrderDetailApi,
    OrderEventsApi,
    OrderListCreateApi,
)
from orders.apis_accounts import AccountApi
from orders.apis_exchanges import ExchangeListApi
from orders.apis_instruments import InstrumentListApi

urlpatterns = [
    path("account", AccountApi.as_view(), name="account"),
    path("orders", OrderListCreateApi.as_view(), name="order-list"),
    path("orders/active", ActiveOrdersApi.as_view(), name="order-active"),
    path("orders/<int:order_id>", OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<int:order_id>/cancel", OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<int:order_id>/events", OrderEventsApi.as_view(), name="order-events"),
    path("instruments", InstrumentListApi.as_view(), name="instrument-list"),
    path("exchanges", ExchangeListApi.as_view(), name="exchange-list"),
]
