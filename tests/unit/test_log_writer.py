"""Log lines written by a thread of their own (monitoring.logging._Writer): the same lines, in
the order they were logged, with the context and time of the call, nothing lost at exit, at a
fork or under back-pressure."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import structlog

from monitoring import correlation
from monitoring.logging import _QueueHandler, _Writer, log_event

ROOT = Path(__file__).resolve().parents[2]


class _SlowHandler(logging.StreamHandler):
    """A stream that takes its time per line (a slow pipe)."""

    def __init__(self, stream, delay: float):
        super().__init__(stream)
        self.delay = delay

    def emit(self, record):
        time.sleep(self.delay)
        super().emit(record)


@pytest.fixture
def through_writer():
    """A logger whose lines go through a _Writer to a string, through the configured
    formatter (the real chain); yields (logger name, writer, lines())."""
    formatter = logging.getLogger().handlers[0].formatter
    stream = io.StringIO()
    target = logging.StreamHandler(stream)
    target.setFormatter(formatter)
    writer = _Writer([target], interval=0.005)
    name = "tests.log_writer"
    logger = logging.getLogger(name)
    handler = _QueueHandler(writer, formatter)
    logger.addHandler(handler)
    logger.propagate, logger.level = False, logging.INFO

    def lines():
        assert writer.flush(timeout=5), "the writer did not catch up within 5 s"
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield name, writer, lines
    logger.removeHandler(handler)
    logger.propagate = True
    writer.stop()
    assert not writer.thread.is_alive()


def test_it_writes_lines_in_the_order_they_were_logged(through_writer):
    name, _writer, lines = through_writer
    log = structlog.get_logger(name)
    stdlib = logging.getLogger(name)
    for i in range(300):
        log.info("structlog_line", n=i)
        log_event(name, logging.INFO, "venue_call", {"n": i})
        stdlib.info("stdlib line %d", i)
    written = lines()
    assert len(written) == 900
    kinds = [line["event"].split(" ")[0] for line in written]
    assert kinds == ["structlog_line", "venue_call", "stdlib"] * 300
    assert [line["n"] for line in written if "n" in line] == [i for i in range(300) for _ in "ab"]


def test_it_takes_the_context_and_time_of_the_call(through_writer):
    name, writer, lines = through_writer
    writer.interval = 0.3  # lines wait on the queue well after their call returned
    correlation.bind("corr-writer-1")
    try:
        logged_at = time.time()
        structlog.get_logger(name).info("structlog_line")
        log_event(name, logging.WARNING, "venue_call", {"venue": "bitmex"})
        logging.getLogger(name).info("stdlib line")
    finally:
        correlation.clear()
    time.sleep(0.1)
    written = lines()
    assert [line["correlation_id"] for line in written] == ["corr-writer-1"] * 3
    for line in written:
        stamp = line["timestamp"]
        assert stamp.endswith("Z")
        seconds = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert abs(seconds - logged_at) < 1.5, (stamp, logged_at)
    assert written[1]["level"] == "warning"


def test_it_keeps_a_traceback_and_arguments_as_they_were_at_the_call(through_writer):
    name, writer, lines = through_writer
    writer.interval = 0.2
    items = ["before"]
    try:
        raise ValueError("boom-in-the-caller")
    except ValueError:
        structlog.get_logger(name).exception("structlog_failed")
        logging.getLogger(name).exception("stdlib failed with %s", items)
    structlog.get_logger(name).info("structlog_items", items=items)
    log_event(name, logging.INFO, "event_items", {"items": items})
    items.append("after")  # changes once the calls have returned
    written = lines()
    assert "boom-in-the-caller" in written[0]["exception"]
    assert "boom-in-the-caller" in written[1]["exception"]
    assert written[1]["event"] == "stdlib failed with ['before']"
    assert written[2]["items"] == ["before"] and written[3]["items"] == ["before"]


def test_a_handler_after_the_writers_sees_the_record_unchanged(through_writer):
    """Another handler on the same logger (pytest's caplog, an error reporter) still gets
    the record's arguments and exception after the writer's handler rendered it."""
    name, _writer, lines = through_writer
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append((record.getMessage(), record.exc_info is not None))

    keep = Keep()
    logging.getLogger(name).addHandler(keep)
    try:
        try:
            raise KeyError("k")
        except KeyError:
            logging.getLogger(name).exception("failed %s of %d", "one", 2)
    finally:
        logging.getLogger(name).removeHandler(keep)
    assert seen == [("failed one of 2", True)]
    assert lines()[0]["event"] == "failed one of 2"


def test_under_back_pressure_the_caller_writes_and_nothing_is_lost():
    formatter = logging.getLogger().handlers[0].formatter
    stream = io.StringIO()
    target = _SlowHandler(stream, delay=0.002)
    target.setFormatter(formatter)
    writer = _Writer([target], interval=0.001)
    writer.MAX_QUEUED = 5
    handler = _QueueHandler(writer, formatter)
    logger = logging.getLogger("tests.log_writer.pressure")
    logger.addHandler(handler)
    logger.propagate = False
    most_queued = 0
    try:
        for i in range(200):
            log_event(logger.name, logging.WARNING, "venue_call", {"n": i})
            most_queued = max(most_queued, writer.queue.qsize())
        assert writer.flush(timeout=10)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        writer.stop()
    assert most_queued <= writer.MAX_QUEUED + 1
    assert sorted(json.loads(line)["n"] for line in stream.getvalue().splitlines()) == list(
        range(200)
    )


def _run(script: str, timeout: float = 60) -> subprocess.CompletedProcess:
    # Without coverage's subprocess start-up: its os._exit patch saves data in a forked child
    # and can hang there on a lock another thread of the parent held at the fork.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COVERAGE_", "COV_CORE_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def test_it_writes_every_queued_line_before_the_process_exits():
    result = _run(
        """
        import logging, structlog
        from monitoring.logging import configure, log_event
        configure(level="INFO", fmt="json")
        import monitoring.logging as ml
        assert ml._writer is not None and ml._writer.thread.is_alive()
        ml._writer.interval = 0.5  # most lines are still queued when the script ends
        for i in range(3000):
            log_event("exchanges.calls", logging.INFO, "venue_call", {"n": i})
            structlog.get_logger("x").info("structlog_line", n=i)
        """
    )
    assert result.returncode == 0, result.stderr
    numbers = [json.loads(line)["n"] for line in result.stdout.splitlines()]
    assert numbers == [i for i in range(3000) for _ in "ab"]


def test_a_forked_child_writes_its_own_lines_and_no_fork_hangs():
    """A thread logs without pause while the main thread forks children: each child logs,
    flushes and leaves through os._exit (as a Celery pool child does); none may hang on a
    lock the writer held at the fork, and no line of either side is lost."""
    result = _run(
        """
        import logging, os, threading, time
        from monitoring.logging import configure, flush, log_event
        configure(level="INFO", fmt="json")
        stop = threading.Event()
        count = [0]
        def busy():
            while not stop.is_set():
                log_event("exchanges.calls", logging.INFO, "parent_line", {"n": count[0]})
                count[0] += 1
        thread = threading.Thread(target=busy, daemon=True)
        thread.start()
        children = []
        for i in range(30):
            time.sleep(0.01)
            pid = os.fork()
            if pid == 0:
                for j in range(5):
                    log_event("exchanges.calls", logging.INFO, "child_line", {"child": i, "n": j})
                ok = flush(timeout=10)
                os._exit(0 if ok else 3)
            children.append(pid)
        deadline = time.time() + 40
        for pid in children:
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    assert os.waitstatus_to_exitcode(status) == 0, status
                    break
                assert time.time() < deadline, "a forked child hung"
                time.sleep(0.01)
        stop.set()
        thread.join()
        log_event("exchanges.calls", logging.INFO, "parent_done", {"n": count[0]})
        """,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    child = sorted((line["child"], line["n"]) for line in lines if line["event"] == "child_line")
    assert child == [(i, j) for i in range(30) for j in range(5)]
    parent = [line["n"] for line in lines if line["event"] == "parent_line"]
    done = [line["n"] for line in lines if line["event"] == "parent_done"]
    assert done and parent == list(range(done[0])), "the parent lost or reordered lines"


def test_without_the_writer_thread_lines_are_written_at_the_call():
    result = _run(
        """
        import logging, sys
        from monitoring.logging import configure, log_event
        import monitoring.logging as ml
        configure(level="INFO", fmt="json", threaded=False)
        assert ml._writer is None
        log_event("exchanges.calls", logging.INFO, "venue_call", {"n": 1})
        sys.stdout.flush()
        import os
        os._exit(0)  # no atexit: a line written at the call is out already
        """
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["n"] for line in result.stdout.splitlines()] == [1]


def test_the_writer_thread_is_a_daemon_named_for_operators():
    writer = _Writer([logging.StreamHandler(io.StringIO())])
    try:
        assert writer.thread.daemon and writer.thread.name == "log-writer"
        assert threading.active_count() >= 2
    finally:
        writer.stop()
    assert not writer.thread.is_alive()


class _CountingStream(io.StringIO):
    def __init__(self):
        super().__init__()
        self.writes = 0

    def write(self, text):
        self.writes += 1
        return super().write(text)


def test_the_lines_of_one_wake_up_go_out_in_one_write_in_order():
    formatter = logging.getLogger().handlers[0].formatter
    stream = _CountingStream()
    target = logging.StreamHandler(stream)
    target.setFormatter(formatter)
    writer = _Writer([target], interval=0.2)  # every line below is queued before it wakes
    handler = _QueueHandler(writer, formatter)
    logger = logging.getLogger("tests.log_writer.batch")
    logger.addHandler(handler)
    logger.propagate, logger.level = False, logging.INFO
    try:
        for i in range(200):
            log_event(logger.name, logging.INFO, "venue_call", {"n": i})
        assert writer.flush(timeout=5)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        writer.stop()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["n"] for line in lines] == list(range(200))
    assert 1 <= stream.writes <= 3, stream.writes  # a write per line before: 200


def test_a_batch_skips_a_line_below_the_handlers_level_and_keeps_the_rest():
    formatter = logging.getLogger().handlers[0].formatter
    stream = io.StringIO()
    target = logging.StreamHandler(stream)
    target.setFormatter(formatter)
    target.setLevel(logging.WARNING)
    writer = _Writer([target], interval=0.2)
    handler = _QueueHandler(writer, formatter)
    logger = logging.getLogger("tests.log_writer.levels")
    logger.addHandler(handler)
    logger.propagate, logger.level = False, logging.INFO
    try:
        for i in range(10):
            log_event(
                logger.name, logging.WARNING if i % 2 else logging.INFO, "venue_call", {"n": i}
            )
        assert writer.flush(timeout=5)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        writer.stop()
    assert [json.loads(line)["n"] for line in stream.getvalue().splitlines()] == [1, 3, 5, 7, 9]


@pytest.mark.parametrize("threaded", [True, False])
def test_output_handlers_redirect_every_line_with_or_without_the_writer(threaded, tmp_path):
    """The root logger's one handler is the queue when the writer thread is on; a process
    that sends its lines to a file (the benchmarks do) has to reach the writer's handlers."""
    target = tmp_path / "lines.log"
    result = _run(
        f"""
        import logging, structlog
        from monitoring.logging import configure, flush, log_event, output_handlers
        configure(level="INFO", fmt="json", threaded={threaded})
        stream = open({str(target)!r}, "a")
        for handler in output_handlers():
            handler.setStream(stream)
        log_event("exchanges.calls", logging.INFO, "venue_call", {{"n": 1}})
        structlog.get_logger("x").info("structlog_line", n=2)
        assert flush(timeout=5)
        stream.close()
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert [json.loads(line)["n"] for line in target.read_text().splitlines()] == [1, 2]
