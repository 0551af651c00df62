"""The operators' console in the Django admin: the operations dashboard and the order timeline.

Reads only (selectors.py, counts.py); the actions it links to (order cancel / reconcile, the
breaker board's force-open / force-close / reset) go through the domain services and are audited.
"""
