"""python manage.py demo: a guided tour of the running platform (start it with `make run`).

Talks to the platform over HTTP only, as a client would: the REST API with the demo API key
(.run/demo-api-key, written by `make run`, or --api-key) and the exchange emulator's control
API on its two ports. See orders/demo.py for the steps.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.demo import DemoFailed, Tour


class Command(BaseCommand):
    help = (
        "A scripted tour of the running stack (`make run`): orders on every market type, an "
        "injected venue outage, the breaker opening, a failover, recovery. Prints each step."
    )

    def add_arguments(self, parser):
        port = os.environ.get("PORT", "8000")
        parser.add_argument("--url", default=f"http://127.0.0.1:{port}", help="the API")
        parser.add_argument("--api-key", default="", help="default: .run/demo-api-key")
        parser.add_argument("--state-dir", default=".run", help="where make run keeps its files")
        parser.add_argument(
            "--binance-url",
            default=f"http://127.0.0.1:{settings.EMULATOR_BINANCE_PORT}",
            help="the emulator's Binance port",
        )
        parser.add_argument(
            "--bitmex-url",
            default=f"http://127.0.0.1:{settings.EMULATOR_BITMEX_PORT}",
            help="the emulator's BitMEX port",
        )
        parser.add_argument("--outage-seconds", type=float, default=20.0)
        parser.add_argument(
            "--wait-seconds",
            type=float,
            default=60.0,
            help="the longest one step waits (the breaker's recovery takes 30 s by default)",
        )

    def handle(self, *args, **opts):
        tour = Tour(
            api_url=opts["url"],
            api_key=opts["api_key"] or self._demo_key(Path(opts["state_dir"])),
            binance_url=opts["binance_url"],
            bitmex_url=opts["bitmex_url"],
            out=self.stdout.write,
            outage_seconds=opts["outage_seconds"],
            wait_seconds=opts["wait_seconds"],
        )
        try:
            tour.run()
        except DemoFailed as exc:
            raise CommandError(f"demo stopped: {exc}") from exc

    @staticmethod
    def _demo_key(state_dir: Path) -> str:
        path = state_dir / "demo-api-key"
        if not path.exists():
            raise CommandError(
                f"no {path}: start the platform with `make run` first, or pass --api-key"
            )
        return path.read_text().strip()
