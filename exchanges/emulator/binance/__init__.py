"""Binance wire protocol: spot `/api/v3`, USDⓈ-M `/fapi/v1`, COIN-M `/dapi/v1` on one port."""
