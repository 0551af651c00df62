"""`python manage.py sync_instruments [--wait SECONDS] [--venue-api API ...]`

Loads every venue API's instruments into the Instrument table (see
orders/execution/instruments.py). With --wait it keeps trying an unreachable venue for that
many seconds (the emulator may still be starting). A venue that stays unreachable is reported
and skipped: workers load instruments again when they start, and beat refreshes them. Exits
non-zero only with --strict and a venue left unsynced.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.execution.instruments import instruments_sync
from reliability.errors import VenueError


class Command(BaseCommand):
    help = "Load instruments from each venue API into the Instrument table."

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            help="seconds to keep retrying an unreachable venue (default: try once)",
        )
        parser.add_argument(
            "--venue-api",
            action="append",
            choices=settings.VENUE_APIS,
            help="only this venue API (repeatable; default: all)",
        )
        parser.add_argument(
            "--strict", action="store_true", help="exit non-zero when a venue stays unsynced"
        )

    def handle(self, *args, wait: float, venue_api, strict: bool, **options):
        deadline = time.monotonic() + max(0.0, wait)
        failed = []
        for api in venue_api or settings.VENUE_APIS:
            report, error = self._sync(api, deadline)
            if report is not None:
                self.stdout.write(f"instruments {report}")
            else:
                failed.append(api)
                self.stderr.write(f"instruments {api}: not synced ({error})")
        if failed and strict:
            raise CommandError(f"instruments not synced for {', '.join(failed)}")

    def _sync(self, api: str, deadline: float):
        while True:
            try:
                return instruments_sync(venue_api=api), None
            except VenueError as exc:
                if time.monotonic() >= deadline:
                    return None, exc
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
