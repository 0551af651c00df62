"""The worker's Redis broker transport: kombu's, except that a channel whose connection has
already let go of it fails with a connection error instead of an AttributeError.

Why: when Redis goes away while a worker holds unacknowledged messages (acks_late: every task
running), Celery 5.7 collects the broken broker connection, which detaches its transport
(`transport.client = None`), and then closes it. Closing the channel restores the unacked
messages, and kombu 5.7 builds a Redis client for that from `transport.client.hostname`:
`AttributeError: 'NoneType' object has no attribute 'hostname'`. That is not one of the
connection errors Celery ignores while closing, so the worker logs "Unrecoverable error" and
exits (under `make run`, honcho then stops every process). kombu 5.7.0 is the newest release
(no fix to pin); the same happens in its Channel.close -> restore_unacked -> conn_or_acquire.

With this transport a detached channel raises redis.ConnectionError, which Celery already
handles on every path that meets it: closing the channel ignores it (the worker reconnects
and keeps consuming), acknowledging on it logs "Couldn't ack". The unacknowledged messages
stay in Redis's unacked set and are delivered again once the visibility timeout passes (or
are gone with a Redis that lost its data; reconciliation covers those orders), exactly as after
a worker crash: tasks are idempotent.

Used by the worker only (trading/celery.py sets broker_transport at worker start).
"""

from __future__ import annotations

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        transport = self.connection
        if transport is None or transport.client is None:
            raise redis.exceptions.ConnectionError(
                "broker channel used after its connection was closed"
            )
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
