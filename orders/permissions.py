from rest_framework import permissions


class HasApiScope(permissions.BasePermission):
    """Reads need the `read` scope, writes the `trade` scope."""

    message = "This API key lacks the scope this request needs."

    def has_permission(self, request, view) -> bool:
        client = request.user
        if client is None or not getattr(client, "is_authenticated", False):
            return False
        needed = "read" if request.method in permissions.SAFE_METHODS else "trade"
        if not client.has_scope(needed):
            self.message = f"This API key lacks the '{needed}' scope."
            return False
        return True
