from django.core.management.base import BaseCommand, CommandError

from orders.services_accounts import InvalidScope, api_key_create


class Command(BaseCommand):
    help = "Create an API key (and the account, if new). The key is printed once, as the last line."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="account name")
        parser.add_argument("--scopes", default="read,trade", help="comma list of read,trade")
        parser.add_argument("--label", default="", help="free text shown in the admin")

    def handle(self, *args, account, scopes, label, **options):
        try:
            key, raw = api_key_create(
                account_name=account,
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                label=label,
            )
        except InvalidScope as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"created key {key.prefix}… for account {account} scopes {key.scopes}")
        self.stdout.write(raw)
