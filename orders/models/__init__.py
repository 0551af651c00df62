from orders.models.accounts import Account, ApiKey

__all__ = ["Account", "ApiKey"]
