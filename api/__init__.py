"""`chargeback serve`: the lake over a read-only HTTP API and a live dashboard.

Reads what `chargeback sql` reads (the same DuckDB views, file access off, parameterised queries only, a cursor per
request) and adds authentication (Microsoft Entra ID bearer tokens, or an API key for local use) with per-team scope.
"""
