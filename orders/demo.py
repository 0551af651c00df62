"""The guided tour behind `python manage.py demo`: the running platform (`make run`) seen from a
client, over HTTP only: the REST API with an API key, and the exchange emulator's control API
(the one thing a client could not do itself: take a venue down).

    1. the platform answers and the key works
    2. the venue APIs and their breakers (GET /api/v1/exchanges)
    3. an order on every market type (spot, linear, inverse; Binance and BitMEX) and a cancel
    4. a venue outage (emulator POST /_emulator/outage): Binance refuses connections
    5. the breaker opens: orders for binance.usdm fail fast with 503 venue_unavailable
    6. failover: an order naming "failover": ["bitmex"] is placed on BitMEX instead
    7. recovery: the outage ends, the breaker probes and closes, the orders accepted during
       the outage reach the venue and new orders go through again

Every step prints what it did and what the platform answered; a step that does not see what
it expects within its time limit stops the tour (DemoFailed) with what it saw instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import httpx

OPEN_STATES = {"PENDING_NEW", "SUBMIT_UNKNOWN", "PENDING_CANCEL", "PENDING_AMEND"}

# (venue API, unified symbol, order type): one order per market type on each exchange.
MARKET_TOUR = (
    ("binance.spot", "BTC/USDT", "limit"),
    ("binance.usdm", "BTC/USDT:USDT", "limit"),
    ("binance.coinm", "BTC/USD:BTC", "limit"),
    ("bitmex", "BTC/USD:BTC", "market"),
)
OUTAGE_API, OUTAGE_SYMBOL, FAILOVER_EXCHANGE = "binance.usdm", "BTC/USDT:USDT", "bitmex"


class DemoFailed(Exception):
    """A step did not see what it expected; the message says what it saw."""


@dataclass
class Tour:
    api_url: str  # http://127.0.0.1:8000
    api_key: str
    binance_url: str  # the emulator's Binance port (its control API is under /_emulator/)
    bitmex_url: str
    out: Callable[[str], None] = print
    outage_seconds: float = 20.0
    wait_seconds: float = 60.0  # the longest any one step waits (the breaker's recovery: 30 s)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_seconds: float = 0.5
    _step: int = field(default=0, init=False)
    _instruments: dict[tuple[str, str], dict] = field(default_factory=dict, init=False)
    _outage_order: dict = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.api = httpx.Client(
            base_url=self.api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        )
        self.control = httpx.Client(timeout=10)

    # --- the tour ----------------------------------------------------------------------------
    def run(self) -> None:
        started = self.clock()
        try:
            self.check_platform()
            self.show_venues()
            self.orders_on_every_market()
            during_outage = self.venue_outage_opens_the_breaker()
            self.failover()
            self.recovery(during_outage)
        except httpx.HTTPError as exc:
            raise DemoFailed(
                f"the platform at {self.api_url} does not answer ({exc}); is `make run` running?"
            ) from exc
        finally:
            self.api.close()
            self.control.close()
        self.out(f"\nTour complete in {self.clock() - started:.0f} s.")

    def check_platform(self) -> None:
        self.step("The platform answers")
        ready = self.api.get("/health/ready")
        self.expect(ready.status_code == 200, f"/health/ready answered {ready.status_code}")
        account = self.get("/api/v1/account")
        self.say(
            f"API {self.api_url} ready; key {account['key_prefix']}… of account {account['account']!r}"
        )
        # an outage left by an interrupted run closes that venue's port: end it from the other
        self.emulator("DELETE", self.bitmex_url, "outage", params={"venue": "binance"})
        self.emulator("DELETE", self.binance_url, "outage", params={"venue": "bitmex"})
        for url in (self.binance_url, self.bitmex_url):
            self.emulator("GET", url, "health")
            self.emulator("DELETE", url, "faults")
        self.say(f"emulator: Binance {self.binance_url}, BitMEX {self.bitmex_url} (no faults)")

    def show_venues(self) -> None:
        self.step("Venue APIs and their circuit breakers (GET /api/v1/exchanges)")
        for row in self.get("/api/v1/exchanges")["results"]:
            breaker = row["breaker"]
            taking = "accepting orders" if row["accepting_orders"] else "REFUSING orders"
            self.say(f"{row['venue_api']:<14} breaker {breaker['state']:<13} {taking}")
        if not self.accepting(OUTAGE_API):
            self.say(
                f"{OUTAGE_API} is not accepting orders (an earlier run?): waiting for its "
                "breaker to recover; `python manage.py breakers reset "
                f"{OUTAGE_API} --reason ...` closes it at once"
            )
            self.wait_for(lambda: self.accepting(OUTAGE_API), f"{OUTAGE_API} to accept orders")

    def orders_on_every_market(self) -> None:
        self.step("An order on every market type")
        placed = []
        for venue_api, symbol, order_type in MARKET_TOUR:
            inst = self.instrument(venue_api, symbol)
            if inst is None:
                self.say(f"{venue_api} {symbol}: not listed, skipped")
                continue
            body = self.order_body(inst, order_type)
            placed.append((self.place(body, note=f"{inst['market_type']} on {venue_api}"), inst))
        resting = None
        for order, inst in placed:
            order = self.settle(order)
            self.say(f"#{order['id']} {inst['market_type']:<8} {describe(order)}")
            if order["state"] == "NEW" and resting is None:
                resting = order
        if resting is not None:
            self.cancel(resting)

    def venue_outage_opens_the_breaker(self) -> list[dict]:
        self.step(f"A venue outage: Binance refuses connections for {self.outage_seconds:g} s")
        inst = self.instrument(OUTAGE_API, OUTAGE_SYMBOL)
        self.expect(inst is not None, f"{OUTAGE_API} {OUTAGE_SYMBOL} is not listed")
        # priced while the venue still answers, on a tick the failover venue takes too
        fallback = self.instrument(FAILOVER_EXCHANGE, OUTAGE_SYMBOL)
        ticks = [Decimal(i["tick_size"]) for i in (inst, fallback) if i is not None]
        body = self.order_body(inst, "limit", tick=max(ticks))
        # sent to the BitMEX port: the Binance port itself is closed during the outage
        self.emulator(
            "POST",
            self.bitmex_url,
            "outage",
            json={"venue": "binance", "seconds": self.outage_seconds, "mode": "refuse"},
        )
        self.say("emulator: POST /_emulator/outage (Binance's port closes: connection refused)")
        accepted: list[dict] = []
        self.step(f"The {OUTAGE_API} breaker opens; new orders for it fail fast")
        deadline = self.clock() + self.wait_seconds
        while self.accepting(OUTAGE_API):
            self.expect(self.clock() < deadline, f"the {OUTAGE_API} breaker never opened")
            response = self.api.post("/api/v1/orders", json=body)
            if response.status_code == 202:
                accepted.append(response.json())
                self.say(f"#{response.json()['id']} accepted (202); its submit is refused")
            self.sleep(max(self.poll_seconds, 1.0))
        row = self.venue(OUTAGE_API)
        self.say(f"breaker {row['breaker']['state']} ({row['breaker']['last_trigger']})")
        refused = self.api.post("/api/v1/orders", json=body)
        error = refused.json().get("error", {}) if refused.content else {}
        self.expect(
            refused.status_code == 503,
            f"expected 503 for {OUTAGE_API}, got {refused.status_code}: {refused.text[:200]}",
        )
        self.say(f"POST /api/v1/orders -> 503 {error.get('code')}: {error.get('message')}")
        self._outage_order = body
        return accepted

    def failover(self) -> None:
        self.step(f"Failover: the same order naming failover {[FAILOVER_EXCHANGE]}")
        body = {**self._outage_order, "failover": [FAILOVER_EXCHANGE]}
        order = self.settle(self.place(body, note="preferred venue down"))
        self.expect(
            order["exchange"] == FAILOVER_EXCHANGE,
            f"order {order['id']} stayed on {order['venue_api']} ({order['state']})",
        )
        self.say(f"#{order['id']} {describe(order)}")
        for event in self.get(f"/api/v1/orders/{order['id']}/events")["results"]:
            if "failover" in event["reason"]:
                self.say(f"event: {event['reason']}")

    def recovery(self, during_outage: list[dict]) -> None:
        self.step("Recovery: the outage ends, the breaker probes and closes")
        self.emulator("DELETE", self.bitmex_url, "outage", params={"venue": "binance"})
        self.say("outage over (emulator DELETE /_emulator/outage)")
        row = self.venue(OUTAGE_API)
        retry_at = row["breaker"].get("retry_at")
        if retry_at:
            self.say(f"breaker {row['breaker']['state']}: the next call probes after {retry_at}")
        waited = self.clock()
        self.wait_for(
            lambda: self.venue(OUTAGE_API)["breaker"]["state"] == "closed",
            f"the {OUTAGE_API} breaker to close",
        )
        self.say(
            f"{OUTAGE_API} breaker closed after {self.clock() - waited:.0f} s (probe succeeded)"
        )
        for order in during_outage:
            order = self.settle(order)
            self.say(f"#{order['id']} (accepted during the outage) {describe(order)}")
        inst = self.instrument(OUTAGE_API, OUTAGE_SYMBOL)
        order = self.settle(self.place(self.order_body(inst, "limit"), note="venue back"))
        self.expect(order["venue_api"] == OUTAGE_API, f"order {order['id']} went elsewhere")
        self.say(f"#{order['id']} {describe(order)}")

    # --- orders ------------------------------------------------------------------------------
    def order_body(self, inst: dict, order_type: str, *, tick: Decimal | None = None) -> dict:
        """A valid order for the instrument: a limit buy 3 % under the market (it rests), or a
        market buy; the smallest quantity its rules allow, with room over min_notional."""
        quote = self.emulator(
            "GET",
            self.url_for(inst["venue_api"]),
            "price",
            params={"symbol": inst["venue_symbol"], "venue_api": inst["venue_api"]},
        )
        reference = Decimal(quote["bid"] or quote["price"])
        price = step_down(reference * Decimal("0.97"), tick or Decimal(inst["tick_size"]))
        body = {
            "exchange": inst["exchange"],
            "symbol": inst["symbol"],
            "side": "buy",
            "type": order_type,
            "quantity": str(quantity_for(inst, price)),
        }
        if order_type == "limit":
            body.update(price=str(price), time_in_force="GTC")
        return body

    def place(self, body: dict, *, note: str) -> dict:
        response = self.api.post("/api/v1/orders", json=body)
        self.expect(response.status_code == 202, f"POST /api/v1/orders: {response.text[:300]}")
        order = response.json()
        price = f" @ {body['price']}" if body.get("price") else ""
        self.say(
            f"#{order['id']} {body['side']} {body['type']} {body['quantity']} {body['symbol']}"
            f"{price} on {body['exchange']} -> 202 {order['state']} ({note})"
        )
        return order

    def settle(self, order: dict) -> dict:
        """Polls GET /orders/{id} until the venue has answered (a state past PENDING_*)."""
        holder = {"order": order}

        def done() -> bool:
            holder["order"] = self.get(f"/api/v1/orders/{order['id']}")
            return holder["order"]["state"] not in OPEN_STATES

        self.wait_for(done, f"order {order['id']} to reach its venue")
        return holder["order"]

    def cancel(self, order: dict) -> None:
        response = self.api.post(f"/api/v1/orders/{order['id']}/cancel")
        self.expect(response.status_code == 202, f"cancel {order['id']}: {response.text[:300]}")
        order = self.settle(response.json())
        self.say(f"#{order['id']} cancel requested -> {order['state']}")

    # --- reads -------------------------------------------------------------------------------
    def instrument(self, venue_api: str, symbol: str) -> dict | None:
        if not self._instruments:
            url: str | None = "/api/v1/instruments?base=BTC&limit=500"
            while url:
                page = self.get(url)
                for row in page["results"]:
                    self._instruments[(row["venue_api"], row["symbol"])] = row
                url = page["next"]
        return self._instruments.get((venue_api, symbol))

    def venue(self, venue_api: str) -> dict:
        rows = self.get("/api/v1/exchanges")["results"]
        return next(row for row in rows if row["venue_api"] == venue_api)

    def accepting(self, venue_api: str) -> bool:
        return self.venue(venue_api)["accepting_orders"]

    def get(self, path: str) -> Any:
        response = self.api.get(path)
        self.expect(response.status_code == 200, f"GET {path}: {response.status_code}")
        return response.json()

    def url_for(self, venue_api: str) -> str:
        return self.bitmex_url if venue_api == "bitmex" else self.binance_url

    def emulator(self, method: str, base: str, path: str, **kw) -> Any:
        try:
            response = self.control.request(method, f"{base.rstrip('/')}/_emulator/{path}", **kw)
        except httpx.HTTPError as exc:
            raise DemoFailed(f"the exchange emulator at {base} does not answer: {exc}") from exc
        self.expect(response.status_code < 400, f"emulator {method} {path}: {response.text}")
        return response.json()

    # --- plumbing ----------------------------------------------------------------------------
    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = self.clock() + self.wait_seconds
        while not condition():
            if self.clock() >= deadline:
                raise DemoFailed(f"gave up after {self.wait_seconds:g} s waiting for {what}")
            self.sleep(self.poll_seconds)

    def expect(self, ok: bool, message: str) -> None:
        if not ok:
            raise DemoFailed(message)

    def step(self, title: str) -> None:
        self._step += 1
        self.out(f"\n{self._step}. {title}")

    def say(self, text: str) -> None:
        self.out(f"   {text}")


def describe(order: dict) -> str:
    text = f"{order['venue_api']} {order['symbol']} {order['state']}"
    if order.get("venue_order_id"):
        text += f" (venue order id {order['venue_order_id']})"
    if order.get("filled_quantity") not in (None, "0"):
        text += f", filled {order['filled_quantity']}"
        if order.get("average_price"):
            text += f" @ {order['average_price']}"
    if order.get("reject_reason"):
        text += f": {order['reject_reason']}"
    return text


def step_down(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def step_up(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def quantity_for(inst: dict, price: Decimal) -> Decimal:
    """The smallest quantity the instrument takes, with 20 % room over its minimum notional
    (inverse contracts are priced in USD: their minimum is in contracts)."""
    step = Decimal(inst["step_size"])
    quantity = max(Decimal(inst["min_qty"]), step)
    min_notional = Decimal(inst["min_notional"] or "0")
    if inst["market_type"] != "inverse" and min_notional > 0:
        contract = Decimal(inst["contract_size"] or "1")
        quantity = max(quantity, step_up(min_notional * Decimal("1.2") / (price * contract), step))
    return Decimal(format(quantity.normalize(), "f"))
