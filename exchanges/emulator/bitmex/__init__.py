"""BitMEX wire protocol: `/api/v1`."""
