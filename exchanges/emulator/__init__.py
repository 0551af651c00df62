"""The local exchange emulator: Binance (spot, USDⓈ-M, COIN-M) and BitMEX on their real wire
protocols, with a matching engine and scripted faults. Independent of Django's ORM: all state
is in memory, per process.

Layout: `instruments` (what each venue lists), `book` (one instrument's matching engine),
`venue` (one venue API's orders, trades, ids), `ratelimit`, `faults`, `site` (one port: its
venues, credentials, faults, outage), `binance/` and `bitmex/` (wire formats and endpoints),
`control` (the `/_emulator/` API), `server` (uvicorn serving both ports). Entry points:
`python manage.py exchange_emulator` and `tests/fixtures/emulator.py`.
"""
