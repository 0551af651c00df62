"""The admin site as the operators' console: its name and an index that leads to the
operations dashboard and the breaker board."""

from django.contrib import admin

admin.site.site_header = "Trading platform console"
admin.site.site_title = "Trading console"
admin.site.index_title = "Operations"
admin.site.index_template = "admin/console_index.html"
