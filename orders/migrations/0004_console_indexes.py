# The operators' console: admin lists filtered by any state, and the dashboard's latest
# reconciliation corrections and operator actions. Built CONCURRENTLY: on a live table of
# millions of orders a plain CREATE INDEX would block every write while it builds.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("orders", "0003_orderevent_append_only"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(fields=["state", "created_at", "id"], name="order_state_created"),
        ),
        AddIndexConcurrently(
            model_name="orderevent",
            index=models.Index(
                condition=models.Q(("actor__in", ("reconciler", "operator"))),
                fields=["actor", "created_at", "id"],
                name="order_event_actor_created",
            ),
        ),
    ]
