"""Old import paths of test helpers that moved to tests/support, kept working for one session.

In this session several engineers write tests in parallel against the old paths (`tests.unit.aggregator.lake_builder`,
`tests.unit.consumer.streams`, ...). Each old package's `__init__.py` calls `alias()`, which registers the moved
module under its old dotted name, so `from tests.unit.aggregator.lake_builder import LakeBuilder` and
`from tests.unit.aggregator import handcomputed` keep working without a copy of the file at the old path (a pure
rename lets git carry anyone's edits of the old file over to the new one). New code imports from tests.support.
"""

from __future__ import annotations

import importlib
import sys


def alias(package: str, moved: dict[str, str]) -> None:
    """Make `package.<old>` the module `moved[old]` (an importable dotted name) for each entry."""
    parent = sys.modules[package]
    for old, new in moved.items():
        module = importlib.import_module(new)
        sys.modules[f"{package}.{old}"] = module
        setattr(parent, old, module)
