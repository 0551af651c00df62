"""PostgreSQL itself refuses UPDATE and DELETE on order events (DESIGN.md §3 invariant 5).

TRUNCATE is refused too, unless the session sets `orders.allow_event_truncate = on`: the test
stage sets it on its connections (trading/settings.py) so the test runner's flush between
transactional tests still works; nothing else does.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION orders_orderevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND coalesce(current_setting('orders.allow_event_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'orders_orderevent is append-only: % is not allowed', TG_OP
        USING HINT = 'Order history is an audit trail; record a new event instead.';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER orders_orderevent_no_update_delete
    BEFORE UPDATE OR DELETE ON orders_orderevent
    FOR EACH ROW EXECUTE FUNCTION orders_orderevent_append_only();

CREATE TRIGGER orders_orderevent_no_truncate
    BEFORE TRUNCATE ON orders_orderevent
    FOR EACH STATEMENT EXECUTE FUNCTION orders_orderevent_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS orders_orderevent_no_truncate ON orders_orderevent;
DROP TRIGGER IF EXISTS orders_orderevent_no_update_delete ON orders_orderevent;
DROP FUNCTION IF EXISTS orders_orderevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_orders_domain")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
