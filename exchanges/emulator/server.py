"""The emulator process: both ports served by uvicorn on one asyncio loop.

`Emulator(config).run()` serves in the foreground (the management command);
`Emulator(config).start()` serves from a background thread and returns once both ports accept
connections (the test fixture). Ports 0 pick free ports; `binance_url` / `bitmex_url` tell.

Outages in "refuse" mode close the port's listening socket (new connections are refused, the
way a venue whose front door is down looks to a client) and drop open connections; the socket is
bound again when the outage ends. The "503" mode keeps accepting and answers 503 instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
import uvicorn
from starlette.applications import Starlette

from exchanges.emulator.binance import futures, spot
from exchanges.emulator.binance.site import BinanceSite
from exchanges.emulator.bitmex import routes as bitmex_routes
from exchanges.emulator.bitmex.site import BitmexSite
from exchanges.emulator.control import Control
from exchanges.emulator.instruments import (
    BITMEX,
    COINM,
    SPOT,
    USDM,
    binance_instruments,
    bitmex_instruments,
)
from exchanges.emulator.ratelimit import BinanceLimits, BitmexLimits
from exchanges.emulator.site import FaultMiddleware, Site, VenueRouter, asgi_endpoint
from exchanges.emulator.venue import Venue

log = structlog.get_logger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: two servers in one process would
    each re-raise SIGTERM after stopping and kill the process before it exits cleanly. The
    emulator handles SIGINT/SIGTERM once, for both (Emulator.serve)."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def _loop_factory():
    """uvloop when installed (several times faster under load), else the stdlib loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in requirements.txt
        return None
    return uvloop.new_event_loop


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    binance_port: int = 9101  # 0 = any free port
    bitmex_port: int = 9102
    binance_credentials: dict[str, str] = field(default_factory=dict)  # api key -> secret
    bitmex_credentials: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    walk_seconds: float = 0.0  # reference prices random-walk every N s; 0 = still
    binance_limits: dict[str, BinanceLimits] = field(default_factory=dict)
    bitmex_limits: BitmexLimits | None = None


class Emulator:
    def __init__(self, config: EmulatorConfig):
        self.config = config
        now = datetime.now(UTC)
        binance = binance_instruments(now)
        venue_kw = {"seed": config.seed, "walk_seconds": config.walk_seconds}
        binance_venues = {
            api: Venue(api, [i for i in binance if i.venue_api == api], id_start=start, **venue_kw)
            for api, start in ((SPOT, 28_000_000), (USDM, 4_000_000_000), (COINM, 120_000_000))
        }
        bitmex_venues = {BITMEX: Venue(BITMEX, bitmex_instruments(now), **venue_kw)}
        self.sites: dict[str, Site] = {
            "binance": BinanceSite(
                binance_venues, config.binance_credentials, config.binance_limits
            ),
            "bitmex": BitmexSite(bitmex_venues, config.bitmex_credentials, config.bitmex_limits),
        }
        self.apps = {name: self._app(site) for name, site in self.sites.items()}
        self.ports = {"binance": config.binance_port, "bitmex": config.bitmex_port}
        self._servers: dict[str, uvicorn.Server] = {}
        self._reopen: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _app(self, site: Site):
        if isinstance(site, BinanceSite):
            endpoints = spot.endpoints() + futures.endpoints(USDM) + futures.endpoints(COINM)
        else:
            endpoints = bitmex_routes.endpoints()
        routes = Control(self, site).routes() + [site.route(e) for e in endpoints]
        fast: dict[str, dict] = {}
        for route in routes[len(Control(self, site).routes()) :]:
            for method in route.methods or ():
                fast.setdefault(route.path, {})[method] = asgi_endpoint(route.endpoint)
        return FaultMiddleware(VenueRouter(Starlette(routes=routes), fast), site)

    # --- addresses -----------------------------------------------------------------------
    @property
    def binance_url(self) -> str:
        return f"http://{self.config.host}:{self.ports['binance']}"

    @property
    def bitmex_url(self) -> str:
        return f"http://{self.config.host}:{self.ports['bitmex']}"

    # --- serving -------------------------------------------------------------------------
    def _listen(self, port: int) -> socket.socket:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only then
        # (without it every response waits ~40 ms for the client's delayed ACK).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, port))
        sock.listen(2048)
        sock.setblocking(False)
        return sock

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        sockets = {}
        for name in self.sites:
            sockets[name] = self._listen(self.ports[name])
            self.ports[name] = sockets[name].getsockname()[1]
            self.sites[name].on_outage = lambda seconds, name=name: self._outage(name, seconds)
            config = uvicorn.Config(
                self.apps[name],
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
                timeout_keep_alive=30,
            )
            self._servers[name] = _Server(config)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._loop.add_signal_handler(sig, self._exit_all)
        tasks = [
            asyncio.create_task(server.serve(sockets=[sockets[name]]))
            for name, server in self._servers.items()
        ]
        while not all(s.started for s in self._servers.values()):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
        log.info("emulator.started", binance=self.binance_url, bitmex=self.bitmex_url)
        self._ready.set()
        await asyncio.gather(*tasks)

    def run(self) -> None:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(self.serve())

    def start(self, timeout: float = 15.0) -> Emulator:
        def target() -> None:
            try:
                self.run()
            except BaseException as exc:  # surfaced to the starting thread
                self._error = exc
                self._ready.set()

        self._thread = threading.Thread(target=target, name="exchange-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"emulator did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        self._loop.call_soon_threadsafe(self._exit_all)
        if self._thread is not None:
            self._thread.join(10)

    def _exit_all(self) -> None:
        for server in self._servers.values():
            server.should_exit = True

    # --- outages -------------------------------------------------------------------------
    def _outage(self, name: str, seconds: float) -> None:
        """Close the port now and bind it again after `seconds` (0: bind it again now)."""
        loop = asyncio.get_running_loop()
        server = self._servers[name]
        handle = self._reopen.pop(name, None)
        if handle is not None:
            handle.cancel()
        if seconds <= 0:
            self._tasks.add(task := loop.create_task(self._bind_again(name)))
            task.add_done_callback(self._tasks.discard)
            return
        for listener in server.servers:
            listener.close()
        server.servers = []
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        self._reopen[name] = loop.call_later(seconds, self._outage, name, 0)

    async def _bind_again(self, name: str) -> None:
        server = self._servers[name]
        if server.servers:
            return
        config = server.config
        sock = self._listen(self.ports[name])

        def create_protocol(_loop=None):
            return config.http_protocol_class(
                config=config,
                server_state=server.server_state,
                app_state=server.lifespan.state,
                _loop=_loop,
            )

        listener = await asyncio.get_running_loop().create_server(create_protocol, sock=sock)
        server.servers.append(listener)
        self.sites[name].outage_until = 0.0
        log.info("emulator.outage_over", site=name)
