"""The call path's own connection to the state Redis: one per thread, no pool, no waiting for
what nobody reads.

guarded_call talks to Redis twice per healthy call: before it (rate budget + breaker admission:
the call must wait for the verdict) and after it (the breaker records the success; the budget
corrects itself from the venue's headers when they say something new). Nothing in the call's
result depends on the second exchange's reply, so the channel sends it and does not wait: its
reply is read at the start of this thread's next exchange (or by `drain()`), in the same trip.
Redis applies commands of one connection in the order they were sent, and the commands are
sent before guarded_call returns, so every other process sees exactly what it would have seen
had the caller waited; only this thread learns of the reply later.

    batch = channel.batch()                 # collects commands (the .evalsha of a pipeline)
    budget.queue_acquire(batch, ...); breaker.queue_acquire(batch)
    replies = channel.call(batch)           # one trip; None when Redis failed (nothing known)
    channel.send(batch, [on_reply])         # sent now; on_reply(reply | exception) later

A deferred command whose reply is an error (NOSCRIPT after a Redis restart) or is lost with the
connection is handed back to its on_reply, which replays it the ordinary way (redis-py client,
local fallback). Every synchronous state operation of this thread drains first (`drain()`),
so this thread's own commands reach Redis in the order it issued them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import redis
import structlog

from monitoring.redis import state_client

log = structlog.get_logger(__name__)

# Anything but a command's own error reply: the connection's state is unknown, drop it.
_FAILURES = (redis.RedisError, OSError)

OnReply = Callable[[object], None]  # the reply, or the exception that stands for it


class Batch:
    """Commands to send together; duck-types the `evalsha` of a redis-py pipeline."""

    def __init__(self):
        self.commands: list[tuple] = []

    def evalsha(self, sha: str, numkeys: int, *keys_and_args) -> None:
        self.commands.append(("EVALSHA", sha, numkeys, *keys_and_args))


class _ThreadState(threading.local):
    pid: int | None = None
    client_id: int | None = None
    conn = None
    pending: list[OnReply]


class Channel:
    def __init__(self):
        self._state = _ThreadState()

    def batch(self) -> Batch:
        return Batch()

    def _thread(self) -> _ThreadState:
        state, client = self._state, state_client()
        if state.pid != os.getpid() or state.client_id != id(client):
            # First use in this thread, after a fork (the parent's socket is not ours), or a
            # new client: a connection of our own, made like the client's pool makes them
            # (no health-check PINGs: a pending reply would be read as their answer; a dead
            # connection fails the next trip, which then goes the ordinary way).
            pool = client.connection_pool
            kwargs = {**pool.connection_kwargs, "health_check_interval": 0}
            state.conn = pool.connection_class(**kwargs)
            state.pid, state.client_id, state.pending = os.getpid(), id(client), []
        return state

    def call(self, batch: Batch) -> list | None:
        """Sends the batch, reads the pending replies and then the batch's own.

        Returns the replies (a failed command's reply is its ResponseError), or None when the
        connection failed: the batch may or may not have been applied, and the pending
        commands were handed back to their on_reply."""
        state = self._thread()
        handlers, state.pending = state.pending, []
        replies: list = []
        try:
            state.conn.send_packed_command(
                state.conn.pack_commands(batch.commands), check_health=False
            )
            for _ in range(len(handlers) + len(batch.commands)):
                replies.append(self._read(state.conn))
        except _FAILURES as exc:
            state.conn.disconnect()
            _dispatch(handlers, replies, exc)
            return None
        _dispatch(handlers, replies[: len(handlers)], None)
        return replies[len(handlers) :]

    def send(self, batch: Batch, on_replies: list[OnReply]) -> None:
        """Sends the batch without waiting; on_replies[i] gets command i's reply later."""
        state = self._thread()
        try:
            state.conn.send_packed_command(
                state.conn.pack_commands(batch.commands), check_health=False
            )
        except _FAILURES as exc:
            state.conn.disconnect()
            handlers, state.pending = state.pending, []
            _dispatch([*handlers, *on_replies], [], exc)
            return
        state.pending.extend(on_replies)

    def drain(self) -> None:
        """Reads every pending reply (before this thread's next synchronous state change)."""
        state = self._thread()
        if not state.pending:
            return
        handlers, state.pending = state.pending, []
        replies: list = []
        try:
            for _ in handlers:
                replies.append(self._read(state.conn))
        except _FAILURES as exc:
            state.conn.disconnect()
            _dispatch(handlers, replies, exc)
            return
        _dispatch(handlers, replies, None)

    def pending(self) -> int:
        return len(self._thread().pending)

    @staticmethod
    def _read(conn):
        try:
            return conn.read_response()
        except redis.ResponseError as exc:  # this command failed; the stream stays in step
            return exc


def _dispatch(handlers: list[OnReply], replies: list, failure: Exception | None) -> None:
    """Each handler gets its reply, or the failure when its reply was never read. A handler
    that raises is logged, never allowed to break the call that happened to read its reply."""
    for i, on_reply in enumerate(handlers):
        try:
            on_reply(replies[i] if i < len(replies) else failure)
        except Exception as exc:
            log.error(
                "reliability.deferred_reply_failed", error=f"{type(exc).__name__}: {exc}"[:300]
            )


_channel = Channel()


def channel() -> Channel:
    return _channel
