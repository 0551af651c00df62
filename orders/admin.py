from django.contrib import admin

from orders.models import Account, ApiKey


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ("prefix", "label", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "scopes", "created_at", "last_used_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are made with `manage.py create_api_key` so the raw key is shown once


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    inlines = [ApiKeyInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "account", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("account",)
    search_fields = ("prefix", "account__name")
    readonly_fields = ("prefix", "digest", "account", "scopes", "created_at", "last_used_at")
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        from orders.services_accounts import api_key_revoke

        for key in queryset:
            api_key_revoke(key=key)


from orders import admin_orders  # noqa: E402, F401 - registers the order and instrument admins
from orders.console import site  # noqa: E402, F401 - the console's index and titles
