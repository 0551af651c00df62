from django.urls import path

from orders.apis_accounts import AccountApi

urlpatterns = [
    path("account", AccountApi.as_view(), name="account"),
]
