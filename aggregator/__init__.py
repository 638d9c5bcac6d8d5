"""Chargeback roll-ups over the Parquet lake: daily/monthly tables, prices, PTU, FOCUS, SQL, reports, upkeep."""
