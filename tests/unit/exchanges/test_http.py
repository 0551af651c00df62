"""The HTTP exchange primitive: transport failures, call records, metrics, observers."""

from __future__ import annotations

import httpx
import pytest

from exchanges.binance.errors import classify_response
from exchanges.calls import observe_calls
from exchanges.classify import classify_transport, parse_retry_after
from exchanges.http import HttpSettings, VenueHttp, VenueRequest, decode_json
from monitoring import correlation
from reliability.errors import ErrorClass, OutcomeUnknownError, RetryableError

FAST = HttpSettings(connect_timeout=1.0, read_timeout=0.3, write_timeout=1.0, pool_timeout=1.0)


def http(url: str) -> VenueHttp:
    return VenueHttp(
        venue_api="binance.spot", base_url=url, settings=FAST, classify=classify_response
    )


def submit(**overrides) -> VenueRequest:
    fields = dict(
        operation="submit",
        method="POST",
        path="/api/v3/order",
        query="symbol=BTCUSDT&signature=secret-looking",
        write=True,
        client_order_id="c-1",
    )
    fields.update(overrides)
    return VenueRequest(**fields)


def test_it_reports_connect_refused_as_retryable_and_not_sent(refused_url):
    with observe_calls() as calls, pytest.raises(RetryableError) as caught:
        http(refused_url).exchange(submit())
    error = caught.value
    assert error.sent is False
    assert error.error_class is ErrorClass.RETRYABLE
    assert error.call is calls[0]
    assert dict(error.headers) == {}
    assert calls[0].sent is False and calls[0].http_status is None
    assert calls[0].error_class is ErrorClass.RETRYABLE


def test_it_reports_a_read_timeout_on_a_write_as_outcome_unknown(silent_server):
    with pytest.raises(OutcomeUnknownError) as caught:
        http(silent_server.url).exchange(submit())
    assert caught.value.sent is True
    assert caught.value.code == "ReadTimeout"
    assert caught.value.call.duration >= 0.3
    assert silent_server.received and silent_server.received[0].startswith(b"POST /api/v3/order?")


def test_it_reports_a_read_timeout_on_a_read_as_retryable(silent_server):
    with pytest.raises(RetryableError) as caught:
        http(silent_server.url).exchange(submit(method="GET", write=False, operation="query"))
    assert caught.value.sent is True


def test_observers_see_start_and_finish_with_the_correlation_id(refused_url):
    correlation.bind("req-42")
    started, finished = [], []
    try:
        with (
            observe_calls(on_start=started.append, on_finish=finished.append) as outer,
            observe_calls() as inner,
            pytest.raises(RetryableError),
        ):
            http(refused_url).exchange(submit())
    finally:
        correlation.clear()
    assert [r.call_id for r in started] == [r.call_id for r in finished] == [outer[0].call_id]
    assert inner == outer
    assert started[0].outcome is None and started[0].duration is None
    record = finished[0]
    assert record.correlation_id == "req-42"
    assert record.client_order_id == "c-1"
    assert record.endpoint == "/api/v3/order"  # never the query string with the signature
    assert record.outcome == "retryable"


def test_a_failing_start_observer_stops_the_request(silent_server):
    def refuse(_record):
        raise RuntimeError("write-ahead failed")

    with observe_calls(on_start=refuse), pytest.raises(RuntimeError):
        http(silent_server.url).exchange(submit())
    assert silent_server.received == []


def test_observers_end_with_their_block(refused_url):
    with observe_calls() as calls:
        pass
    with pytest.raises(RetryableError):
        http(refused_url).exchange(submit())
    assert calls == []


@pytest.mark.parametrize(
    ("exc", "write", "cls", "sent"),
    [
        (httpx.ConnectError("refused"), True, RetryableError, False),
        (httpx.ConnectTimeout("slow"), True, RetryableError, False),
        (httpx.PoolTimeout("busy"), True, RetryableError, False),
        (httpx.ReadTimeout("slow"), True, OutcomeUnknownError, True),
        (httpx.WriteTimeout("slow"), True, OutcomeUnknownError, True),
        (httpx.RemoteProtocolError("dropped"), True, OutcomeUnknownError, True),
        (httpx.ReadError("reset"), True, OutcomeUnknownError, True),
        (httpx.ReadTimeout("slow"), False, RetryableError, True),
        (httpx.RemoteProtocolError("dropped"), False, RetryableError, True),
    ],
)
def test_it_classifies_transport_failures(exc, write, cls, sent):
    error = classify_transport(exc, venue_api="bitmex", write=write)
    assert type(error) is cls
    assert error.sent is sent
    assert error.code == type(exc).__name__


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), ("0.5", 0.5), ("-3", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_it_parses_retry_after_seconds(value, seconds):
    assert parse_retry_after(value) == seconds


def test_it_parses_retry_after_dates():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


def test_it_decodes_json_numbers_as_decimals():
    from decimal import Decimal

    assert decode_json(b'{"price": 0.1, "qty": 3}') == {"price": Decimal("0.1"), "qty": 3}
    assert decode_json(b"  ") is None
    assert decode_json('{"ok": true, "name": "\u00e9"}'.encode()) == {"ok": True, "name": "\u00e9"}
    for unreadable in (b"\xff\xfe{", b"<html>", b'{"price": 1.5'):
        with pytest.raises(ValueError):  # the caller's "undecodable" branch
            decode_json(unreadable)


@pytest.fixture
def echo_url():
    """A loopback HTTP server answering every request with the request line's target."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            payload = json.dumps({"target": self.path, "body": body}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize("prefix", ["", "/", "/gateway", "/gateway/"])
@pytest.mark.parametrize(
    "method, path, query, body",
    [
        ("DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=c-1&signature=ab12", b""),
        ("POST", "/api/v3/order", "", b"symbol=BTCUSDT&signature=ab12"),
        ("GET", "/api/v3/time", "", b""),
    ],
)
def test_a_request_reaches_the_url_httpx_would_merge_from_base_url(
    echo_url, prefix, method, path, query, body
):
    venue = http(echo_url + prefix)
    request = submit(method=method, path=path, query=query, body=body)
    expected = venue._client.build_request(method, request.url).url  # httpx's own merge
    assert venue.url_of(request) == expected
    response = venue.exchange(request)
    assert response.data == {
        "target": expected.raw_path.decode(),
        "body": body.decode(),
    }
    assert response.data["target"].startswith("/gateway/" if prefix.strip("/") else "/api/")


def test_a_url_without_a_query_is_parsed_once_and_one_with_a_query_every_time(echo_url):
    venue = http(echo_url)
    post = submit(query="", body=b"symbol=BTCUSDT")
    assert venue.url_of(post) is venue.url_of(post)
    signed = submit(method="DELETE", query="symbol=BTCUSDT&timestamp=1")
    assert venue.url_of(signed) is not venue.url_of(signed)
    assert venue.url_of(signed) == venue.url_of(signed)
