"""`python manage.py exchange_emulator`: the local Binance + BitMEX exchange (see README)."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from exchanges.emulator.ratelimit import BinanceLimits, Window
from exchanges.emulator.server import Emulator, EmulatorConfig


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
            "--binance-weight-limit",
            type=int,
            default=None,
            help="REQUEST_WEIGHT per minute for every Binance API (default: the venue's)",
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
        limits = {}
        if opts["binance_weight_limit"]:
            for api in ("binance.spot", "binance.usdm", "binance.coinm"):
                default = BinanceLimits.defaults(api)
                windows = [
                    Window(
                        w.rate_limit_type, w.interval, w.interval_num, opts["binance_weight_limit"]
                    )
                    if w.rate_limit_type == "REQUEST_WEIGHT"
                    else w
                    for w in default.windows
                ]
                limits[api] = BinanceLimits(windows)
        config = EmulatorConfig(
            host=opts["host"],
            binance_port=opts["binance_port"],
            bitmex_port=opts["bitmex_port"],
            binance_credentials=credentials["binance"],
            bitmex_credentials=credentials["bitmex"],
            seed=opts["seed"],
            walk_seconds=opts["walk_seconds"],
            binance_limits=limits,
        )
        emulator = Emulator(config)
        self.stdout.write(
            f"exchange_emulator: Binance on http://{config.host}:{config.binance_port}, "
            f"BitMEX on http://{config.host}:{config.bitmex_port}"
        )
        self.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            emulator.run()
