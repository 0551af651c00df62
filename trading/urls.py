from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/dashboard/", include("orders.console.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("orders.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("health/", include("monitoring.urls")),
    path("", include("django_prometheus.urls")),
]

handler400 = "trading.errors.handler400"
handler403 = "trading.errors.handler403"
handler404 = "trading.errors.handler404"
handler500 = "trading.errors.handler500"
