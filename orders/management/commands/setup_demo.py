"""First-run set-up for `make run`: an admin user and a demo account key, kept across runs."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from orders.models import ApiKey
from orders.models.accounts import hash_key
from orders.services_accounts import api_key_create


class Command(BaseCommand):
    help = "Create (or reuse) the admin user and the demo API key, and print both."

    def add_arguments(self, parser):
        parser.add_argument("--state-dir", default=".run", help="where the demo secrets are kept")
        parser.add_argument(
            "--skip-instruments",
            action="store_true",
            help="do not load instruments here (`make run`: the worker loads them at start, "
            "once the emulator it starts beside answers)",
        )

    def handle(self, *args, state_dir, skip_instruments=False, **options):
        state = Path(state_dir)
        state.mkdir(parents=True, exist_ok=True)
        password = self._admin_password(state)
        raw_key = self._demo_key(state)
        if not skip_instruments:
            self._load_instruments()
        base = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Admin:    {base}/admin/  user admin  password {password}",
                    "  API key:  " + raw_key + "   (account demo, scopes read,trade)",
                    "  Try:      curl -H 'Authorization: Bearer " + raw_key + "' "
                    f"{base}/api/v1/account",
                    "",
                ]
            )
        )

    def _admin_password(self, state: Path) -> str:
        path = state / "admin-password"
        password = path.read_text().strip() if path.exists() else secrets.token_urlsafe(12)
        path.write_text(password + "\n")
        path.chmod(0o600)
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if not user.check_password(password):
            user.set_password(password)
            user.save()
        return password

    def _demo_key(self, state: Path) -> str:
        path = state / "demo-api-key"
        if path.exists():
            raw = path.read_text().strip()
            if ApiKey.objects.active().filter(digest=hash_key(raw)).exists():
                return raw
        _, raw = api_key_create(
            account_name="demo", scopes=["read", "trade"], label="make run demo"
        )
        path.write_text(raw + "\n")
        path.chmod(0o600)
        return raw

    def _load_instruments(self) -> None:
        """Loads instruments from the venues when the sync command exists (execution issue)."""
        from django.core.management import get_commands

        if "sync_instruments" in get_commands():
            call_command("sync_instruments", "--wait", "30")
