"""Binance: spot (/api/v3), USDⓈ-M futures (/fapi/v1) and COIN-M futures (/dapi/v1)."""
