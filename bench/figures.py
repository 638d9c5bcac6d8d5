"""One measured figure, with the baseline it is compared against in the same run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    benchmark: str
    """What was measured, e.g. 'reassemble 1 KB usage records'."""
    value: float
    unit: str
    """e.g. 'records/s', 'MB/s', 's', 'MiB'."""
    baseline: str = ""
    """What the figure is compared against, measured in the same process, or '' if none."""
    baseline_value: float | None = None
    target: str = ""
    """The issue's target, e.g. '>= 100,000 records/s', or ''."""
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline_value in (None, 0):
            return None
        return self.value / self.baseline_value
