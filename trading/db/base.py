"""The PostgreSQL backend: django-prometheus's (query metrics) with a health check that costs
no round trip while the connection is plainly alive.

CONN_HEALTH_CHECKS makes Django check a kept connection before a request's (or a task's) first
query, so a connection PostgreSQL dropped (a restart, a failover, pg_terminate_backend) is
replaced before it is used, not found broken by a client's request. Django's check is a
`SELECT 1`: a round trip to the server on every request, on the accept path as long as a third
of the INSERT that follows it.

An idle connection's socket has nothing to read: the server speaks only when asked. When it
drops the connection, the socket becomes readable (an error message, then end of file, or a
reset). So a zero-timeout poll of the socket tells a live idle connection from a dropped one
without a round trip; whenever the poll sees anything at all (a dropped connection, a notice,
a notification), or the connection is not plainly idle, Django's `SELECT 1` decides as before.
What neither check sees in time is a server that vanished without closing anything (a host
gone from the network): the query after the check waits for the connection's timeouts either
way.
"""

from __future__ import annotations

import select

import psycopg
from django_prometheus.db.backends.postgresql import base
from psycopg.pq import ConnStatus, TransactionStatus

_READABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        raw = self.connection
        if raw is None or raw.closed or raw.broken:
            return False
        try:
            plainly_idle = (
                raw.pgconn.status == ConnStatus.OK
                and raw.info.transaction_status == TransactionStatus.IDLE
            )
            if plainly_idle and not _has_input(raw.fileno()):
                return True
        except (psycopg.Error, OSError, ValueError):
            return False
        return super().is_usable()  # Django's SELECT 1


def _has_input(fd: int) -> bool:
    """True when the socket has something to read, an end of file or an error pending."""
    poller = select.poll()
    poller.register(fd, _READABLE)
    return bool(poller.poll(0))
