from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from orders import (
            instrument_cache,
            schema,  # noqa: F401 - registers the OpenAPI auth extension
        )
        from orders.authentication import connect_signals

        connect_signals()
        instrument_cache.connect_signals()
