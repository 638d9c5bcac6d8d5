"""The aggregator's configuration files, each read once from a local path or a Blob URL (common.storage), parsed,
and remembered with its digest and masked location so a run can record what produced it (`aggregation_runs`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from aggregator.deployments import deployments_table, parse_deployments
from aggregator.dimensions import TagDimensions
from aggregator.fx import FxRates, parse_fx
from aggregator.prices import parse_price_sheet, prices_table
from aggregator.ptu import PtuConfig, parse_ptu_config
from aggregator.settings import AggregatorSettings
from aggregator.teams import TeamsMap, parse_teams
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
    teams: TeamsMap = field(default_factory=TeamsMap)
    dimensions: TagDimensions = field(default_factory=TagDimensions)

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
        teams = TeamsMap()
        if settings.teams_config:
            teams_file, teams_source = _read("teams map", settings.teams_config, settings)
            teams = parse_teams(teams_file.text(), teams_file.location)
            sources.append(teams_source)
        return cls(
            prices=prices_table(parse_price_sheet(price_file.text(), price_file.location)),
            deployments=deployments_table(parse_deployments(deployments_file.text(), deployments_file.location)),
            ptu=ptu,
            settings=settings,
            sources=tuple(sources),
            teams=teams,
            dimensions=TagDimensions.parse(settings.tag_dimensions, settings.tag_max_values),
        )


def load_fx(settings: AggregatorSettings) -> FxRates | None:
    """The exchange rates of reports and exports, or None when `CHARGEBACK_FX_RATES` is not set."""
    if not settings.fx_rates:
        return None
    config, _ = _read("exchange rates", settings.fx_rates, settings)
    return parse_fx(config.text(), config.location)


def load_prices(settings: AggregatorSettings) -> pa.Table:
    """The price sheet alone (the `prices` view of `chargeback sql`)."""
    config, _ = _read("price sheet", settings.price_sheet_location(), settings)
    return prices_table(parse_price_sheet(config.text(), config.location))
