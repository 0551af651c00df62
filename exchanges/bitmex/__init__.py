"""BitMEX (/api/v1): inverse, quanto and linear perpetuals and futures."""
