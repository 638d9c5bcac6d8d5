# Moved to tests/support this session; the old paths stay importable until the next one (tests/support/moved.py).
from tests.support.moved import alias

alias(
    __name__,
    {
        "lake_builder": "tests.support.lake_builder",
        "handcomputed": "tests.support.handcomputed",
        "pricing_fixture": "tests.support.pricing",
        "cli_app": "tests.support.aggregator_cli",
    },
)
