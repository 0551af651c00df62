"""`python manage.py exchange_emulator`: the local Binance + BitMEX exchange (see README)."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from exchanges.emulator.ratelimit import BinanceLimits, BitmexLimits, Window
from exchanges.emulator.server import Emulator, EmulatorConfig

BINANCE_APIS = ("binance.spot", "binance.usdm", "binance.coinm")


class Command(BaseCommand):
    help = (
        "Serve the exchange emulator: Binance spot/USDⓈ-M/COIN-M on one port, BitMEX on "
        "another, with the control API under /_emulator/ on each."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--binance-port", type=int, default=settings.EMULATOR_BINANCE_PORT)
        parser.add_argument("--bitmex-port", type=int, default=settings.EMULATOR_BITMEX_PORT)
        parser.add_argument("--binance-key", default=settings.BINANCE_API_KEY)
        parser.add_argument("--binance-secret", default=settings.BINANCE_API_SECRET)
        parser.add_argument("--bitmex-key", default=settings.BITMEX_API_KEY)
        parser.add_argument("--bitmex-secret", default=settings.BITMEX_API_SECRET)
        parser.add_argument("--seed", type=int, default=0, help="seed of prices, ids and faults")
        parser.add_argument(
            "--walk-seconds",
            type=float,
            default=1.0,
            help="reference prices random-walk one step every N seconds (0: prices stand still)",
        )
        parser.add_argument(
            "--rate-limit-scale",
            type=float,
            default=1.0,
            help="multiply every venue rate limit (1: the venues' own; benchmarks use more)",
        )

    def handle(self, *args, **opts):
        credentials = {}
        for venue in ("binance", "bitmex"):
            key, secret = opts[f"{venue}_key"], opts[f"{venue}_secret"]
            if bool(key) != bool(secret):
                raise CommandError(f"--{venue}-key and --{venue}-secret go together")
            credentials[venue] = {key: secret} if key else {}
            if not key:
                self.stderr.write(f"exchange_emulator: no {venue} credentials; signed calls fail")
        scale = opts["rate_limit_scale"]
        if scale <= 0:
            raise CommandError("--rate-limit-scale must be > 0")
        config = EmulatorConfig(
            host=opts["host"],
            binance_port=opts["binance_port"],
            bitmex_port=opts["bitmex_port"],
            binance_credentials=credentials["binance"],
            bitmex_credentials=credentials["bitmex"],
            seed=opts["seed"],
            walk_seconds=opts["walk_seconds"],
            binance_limits={
                api: _scaled(BinanceLimits.defaults(api), scale) for api in BINANCE_APIS
            },
            bitmex_limits=BitmexLimits(
                max(1, int(BitmexLimits().per_minute * scale)),
                max(1, int(BitmexLimits().order_per_second * scale)),
            ),
        )
        emulator = Emulator(config)
        self.stdout.write(
            f"exchange_emulator: Binance on http://{config.host}:{config.binance_port}, "
            f"BitMEX on http://{config.host}:{config.bitmex_port}"
        )
        self.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            emulator.run()


def _scaled(limits: BinanceLimits, scale: float) -> BinanceLimits:
    windows = [
        Window(w.rate_limit_type, w.interval, w.interval_num, max(1, int(w.limit * scale)))
        for w in limits.windows
    ]
    return BinanceLimits(windows, limits.ban_after, limits.first_ban_seconds)
