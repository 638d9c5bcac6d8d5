"""Hypothesis profiles: how hard the property tests try, chosen once per run by `HYPOTHESIS_PROFILE`.

- `fast` (the default: `make test`, `make test-unit`, a bare `pytest`): each property runs a quarter of its nominal
  examples (at least 20), so the whole suite stays inside its time budget.
- `deep` (`make test-deep`, nightly): four times the nominal examples, no example database shortcuts.
- `nominal`: exactly the counts written in the tests.

A test states its nominal count through `examples(n)`, e.g. ``@settings(max_examples=examples(1000))``; tests that
set no count get the profile's own `max_examples`. The profile is loaded by tests/conftest.py before any test module
is imported, so `examples()` sees it at decoration time.
"""

from __future__ import annotations

import os

from hypothesis import settings

ENV = "HYPOTHESIS_PROFILE"
SCALE = {"fast": 0.25, "nominal": 1.0, "deep": 4.0}
FLOOR = 20

settings.register_profile("fast", max_examples=25, deadline=None)
settings.register_profile("nominal", max_examples=100, deadline=None)
settings.register_profile("deep", max_examples=400, deadline=None)


def active() -> str:
    name = os.environ.get(ENV, "fast")
    if name not in SCALE:
        raise ValueError(f"{ENV}={name!r}: expected one of {', '.join(SCALE)}")
    return name


def load() -> str:
    name = active()
    settings.load_profile(name)
    return name


def examples(nominal: int) -> int:
    """The number of examples for a property whose nominal count is `nominal`, under the active profile."""
    return max(min(FLOOR, nominal), round(nominal * SCALE[active()]))
