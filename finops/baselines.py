"""Robust baselines for the alert rules: median and MAD (pure arithmetic, hypothesis-tested)."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

MAD_SCALE = 1.4826
"""MAD x 1.4826 estimates the standard deviation of normally distributed data, and ignores a few outliers."""


def robust_baseline(values: Sequence[float]) -> tuple[float, float]:
    """(median, scaled MAD) of the baseline values; both 0.0 for no values."""
    if not values:
        return 0.0, 0.0
    centre = median(values)
    return centre, MAD_SCALE * median(abs(v - centre) for v in values)


def spike_threshold(centre: float, spread: float, *, increase_pct: float, floor: float, k: float) -> float:
    """The smallest value that alerts: above the relative rise, the absolute floor and k robust deviations."""
    return max(centre * (1 + increase_pct / 100), centre + floor, centre + k * spread)
