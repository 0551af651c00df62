"""python manage.py breakers [list|open|close|reset] [venue_api] --reason ... [--by NAME]"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reliability.breaker import BreakerStoreUnavailable, all_breakers
from reliability.services import breaker_operate
from reliability.transitions import IllegalTransition

ACTIONS = {"open": "force_open", "close": "force_close", "reset": "reset"}


def _when(ts):
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


class Command(BaseCommand):
    help = (
        "List the venue APIs' circuit breakers, or force-open / force-close / reset one "
        "(audited as a CircuitEvent with --by, default the OS user)."
    )

    def add_arguments(self, parser):
        parser.add_argument("command", choices=["list", *ACTIONS], nargs="?", default="list")
        parser.add_argument("venue_api", nargs="?", choices=settings.VENUE_APIS)
        parser.add_argument("--reason", default="", help="why (required for open/close/reset)")
        parser.add_argument("--by", default="", help="operator name (default: the OS user)")

    def handle(self, *args, command, venue_api, reason, by, **options):
        if command == "list":
            return self._list()
        if not venue_api:
            raise CommandError(
                f"breakers {command} needs a venue API: {', '.join(settings.VENUE_APIS)}"
            )
        operator = by or f"cli:{getpass.getuser()}"
        try:
            state = breaker_operate(
                venue_api=venue_api, action=ACTIONS[command], by=operator, reason=reason
            )
        except (ValueError, IllegalTransition, BreakerStoreUnavailable) as exc:
            raise CommandError(f"{venue_api}: {exc}") from exc
        self.stdout.write(f"{venue_api}: {state} (by {operator})")

    def _list(self):
        header = f"{'venue_api':<15}{'state':<15}{'failures':<10}{'opened_at':<21}{'retry_at':<21}last change"
        self.stdout.write(header)
        for snap in all_breakers().values():
            change = snap["last_trigger"] or "-"
            if snap["actor"] and snap["actor"] != "system":
                change += f" by {snap['actor']}"
            if snap["reason"]:
                change += f": {snap['reason']}"
            self.stdout.write(
                f"{snap['venue_api']:<15}{snap['state']:<15}{snap['consecutive_failures']:<10}"
                f"{_when(snap['opened_at']):<21}{_when(snap['retry_at']):<21}{change}"
                + ("  [LOCAL FALLBACK: Redis unreachable]" if snap["degraded"] else "")
            )
