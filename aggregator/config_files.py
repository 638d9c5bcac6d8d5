"""The aggregator's configuration files, each read once from a local path or a Blob URL (common.storage), parsed,
and remembered with its digest and masked location so a run can record what produced it (`aggregation_runs`)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from aggregator.deployments import deployments_table, parse_deployments
from aggregator.prices import parse_price_sheet, prices_table
from aggregator.ptu import PtuConfig, parse_ptu_config
from aggregator.settings import AggregatorSettings
from common.storage import ConfigFile, read_config_file


@dataclass(frozen=True)
class ConfigSource:
    """One configuration file as a run used it."""

    name: str
    location: str
    sha256: str
    size: int


def _read(name: str, location: str, settings: AggregatorSettings) -> tuple[ConfigFile, ConfigSource]:
    config = read_config_file(location, connection_string=settings.storage_connection, what=name)
    return config, ConfigSource(name, config.location, config.sha256, len(config.data))


@dataclass(frozen=True)
class PricingInputs:
    """Every configuration file of a roll-up, loaded and checked up front, so a bad one stops the run before
    anything is written."""

    prices: pa.Table
    deployments: pa.Table
    ptu: PtuConfig
    settings: AggregatorSettings
    sources: tuple[ConfigSource, ...] = ()

    @classmethod
    def load(cls, settings: AggregatorSettings) -> PricingInputs:
        price_file, price_source = _read("price sheet", settings.price_sheet_location(), settings)
        deployments_file, deployments_source = _read("deployments map", settings.deployments_location(), settings)
        sources = [price_source, deployments_source]
        ptu = PtuConfig()
        if settings.ptu_config:
            ptu_file, ptu_source = _read("PTU config", settings.ptu_config, settings)
            ptu = parse_ptu_config(ptu_file.text(), ptu_file.location)
            sources.append(ptu_source)
        return cls(
            prices=prices_table(parse_price_sheet(price_file.text(), price_file.location)),
            deployments=deployments_table(parse_deployments(deployments_file.text(), deployments_file.location)),
            ptu=ptu,
            settings=settings,
            sources=tuple(sources),
        )


def load_prices(settings: AggregatorSettings) -> pa.Table:
    """The price sheet alone (the `prices` view of `chargeback sql`)."""
    config, _ = _read("price sheet", settings.price_sheet_location(), settings)
    return prices_table(parse_price_sheet(config.text(), config.location))
