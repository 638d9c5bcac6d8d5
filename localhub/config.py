"""Hub specifications (`NAME[:PARTITIONS]`) and the connection strings the SDK accepts in emulator mode."""

from __future__ import annotations

import re
from dataclasses import dataclass

from localhub.errors import HubSpecError

DEFAULT_PARTITIONS = 4
MAX_PARTITIONS = 32
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")

# Any key is accepted (the server does no authentication); the SDK only needs the fields to be present.
KEY_NAME = "RootManageSharedAccessKey"
KEY_VALUE = "localhub-development-key"


@dataclass(frozen=True)
class HubSpec:
    """One event hub the server serves."""

    name: str
    partitions: int = DEFAULT_PARTITIONS

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise HubSpecError(
                f"hub name {self.name!r} is invalid: use letters, digits, '.', '_' or '-', starting with a "
                "letter or digit"
            )
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise HubSpecError(f"hub {self.name!r}: partitions must be 1..{MAX_PARTITIONS}, got {self.partitions}")


def parse_hub_spec(text: str) -> HubSpec:
    """`usage` → 4 partitions, `usage:8` → 8 partitions."""
    name, sep, count = text.strip().partition(":")
    if not sep:
        return HubSpec(name)
    try:
        partitions = int(count)
    except ValueError:
        raise HubSpecError(f"hub {text!r}: PARTITIONS must be an integer (NAME[:PARTITIONS])") from None
    return HubSpec(name, partitions)


def hub_specs(hubs: dict[str, int] | list[HubSpec] | None) -> list[HubSpec]:
    """Normalise the `hubs=` argument of the in-process API; names must be unique (case-insensitive)."""
    specs = [HubSpec(n, p) for n, p in hubs.items()] if isinstance(hubs, dict) else list(hubs or [])
    if not specs:
        specs = [HubSpec("usage")]
    seen: set[str] = set()
    for spec in specs:
        if spec.name.lower() in seen:
            raise HubSpecError(f"hub {spec.name!r} is given twice")
        seen.add(spec.name.lower())
    return specs


def connection_string(host: str, port: int, hub: str | None = None) -> str:
    """The emulator-mode connection string: TLS off, the port honoured, any key accepted."""
    text = f"Endpoint=sb://{host}:{port};SharedAccessKeyName={KEY_NAME};SharedAccessKey={KEY_VALUE};"
    if hub is not None:
        text += f"EntityPath={hub};"
    return text + "UseDevelopmentEmulator=true"
