from django.urls import path

from monitoring import views

urlpatterns = [
    path("", views.aggregate, name="health"),
    path("live", views.live, name="health-live"),
    path("ready", views.ready, name="health-ready"),
    path("exchanges/<str:venue>", views.exchange, name="health-exchange"),
]
