"""The FinOps unit fixtures (clean `chargeback` shell, the aggregated scenario month) for the longer scenarios."""

from tests.unit.finops.conftest import invoke, month, month_env

__all__ = ["invoke", "month", "month_env"]
