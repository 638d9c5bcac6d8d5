"""One Mono harness process per test session; policies compiled once per set of named values."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from producer_policy.harness.policy import PolicyDocuments, PolicyHarness, PreparedPolicy
from producer_policy.render import PACKAGE_DIR

Prepare = Callable[..., PreparedPolicy]


@pytest.fixture(scope="session")
def policy_harness() -> Iterator[PolicyHarness]:
    harness = PolicyHarness()
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture(scope="session")
def prepare(policy_harness: PolicyHarness) -> Prepare:
    """prepare(**named_values) -> the shipped policy compiled with those named values (underscores -> dashes)."""
    documents = PolicyDocuments.from_directory(PACKAGE_DIR)
    cache: dict[tuple[tuple[str, str], ...], PreparedPolicy] = {}

    def _prepare(**named: str) -> PreparedPolicy:
        values = {f"chargeback-{k.replace('_', '-')}": v for k, v in named.items()}
        key = tuple(sorted(values.items()))
        if key not in cache:
            cache[key] = policy_harness.prepare(documents, values)
        return cache[key]

    return _prepare
