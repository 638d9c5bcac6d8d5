"""`chargeback config push`: put the configuration files where the deployed job reads them.

The Bicep wires each configuration-file setting of the nightly job (CHARGEBACK_PRICE_SHEET, ...) to a fixed blob
name in the storage account's `config` container (`CONFIG_FILES` below holds the same names; a test compares them
with the Bicep). `push` checks every given file with the parser the job uses, so a malformed file never reaches
Azure, uploads it (DefaultAzureCredential on Azure, the connection string on an emulator) and prints the settings
as `NAME=URL` lines. A file not given is left as it is; if it is not there yet, the price sheet and the PTU config
get their shipped defaults (the shipped sheet; no provisioned deployments) and the deployments map is required,
because pricing with the shipped example map is silently wrong.

Adding a configuration file (teams map, budgets): append a `ConfigSetting` and wire the same blob name in
infra/modules/container-apps.bicep (`configFileEnv`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aggregator.settings import SHIPPED_PRICE_SHEET
from common.errors import ConfigurationError
from common.storage import StorageKind, StorageUrl, parse_storage_url, read_config_file
from common.storage.errors import StorageLocationError


def _check_prices(text: str, where: str) -> object:
    from aggregator.prices import parse_price_sheet

    return parse_price_sheet(text, where)


def _check_deployments(text: str, where: str) -> object:
    from aggregator.deployments import parse_deployments

    return parse_deployments(text, where)


def _check_ptu(text: str, where: str) -> object:
    from aggregator.ptu import parse_ptu_config

    return parse_ptu_config(text, where)


def _check_budgets(text: str, where: str) -> object:
    from finops.budgets_file import parse_budgets

    return parse_budgets(text, where)


NO_PTU = b'{"provisioned": []}\n'


NO_BUDGETS = b"budget_id,scope,period,amount,unit,thresholds,action,effective_from,effective_to,protected\n"


@dataclass(frozen=True)
class ConfigSetting:
    variable: str
    """The job's environment variable."""
    blob: str
    """The file's name in the config container: the Bicep's default for the same setting."""
    option: str
    what: str
    check: Callable[[str, str], object]
    default: Callable[[], bytes] | None = None
    """What to upload when no file is given and none is there yet; None: the file is required."""


CONFIG_FILES: tuple[ConfigSetting, ...] = (
    ConfigSetting(
        "CHARGEBACK_PRICE_SHEET", "prices.csv", "--prices", "price sheet", _check_prices, SHIPPED_PRICE_SHEET.read_bytes
    ),
    ConfigSetting(
        "CHARGEBACK_DEPLOYMENTS_CONFIG", "deployments.csv", "--deployments", "deployments map", _check_deployments
    ),
    ConfigSetting("CHARGEBACK_PTU_CONFIG", "ptu.json", "--ptu", "PTU config", _check_ptu, lambda: NO_PTU),
    ConfigSetting(
        "CHARGEBACK_BUDGETS_CONFIG", "budgets.csv", "--budgets", "budgets file", _check_budgets, lambda: NO_BUDGETS
    ),
)


@dataclass(frozen=True)
class Pushed:
    setting: ConfigSetting
    url: str
    """Where the job reads it (masked: no secret in it)."""
    action: str  # "uploaded", "kept" or "default"
    sha256: str = ""


class _Target:
    """The config container (or a local directory, for a local run), written through common.storage's rules."""

    def __init__(self, url: StorageUrl, connection_string: str | None) -> None:
        self.url = url
        self.connection_string = connection_string
        self._client = None
        if url.kind is not StorageKind.LOCAL:
            from common.storage.credentials import blob_credential, check_identity, container_client, resolve_secret

            secret = resolve_secret(url, connection_string)
            credential = blob_credential(url, secret)
            if secret is None:
                check_identity(url, credential)
            self._client = container_client(url, secret, credential)

    def location(self, name: str) -> StorageUrl:
        return self.url.child(name)

    def exists(self, name: str) -> bool:
        target = self.location(name)
        if self._client is None:
            return Path(target.local_path).is_file()
        try:
            return bool(self._client.get_blob_client(target.path).exists())
        except Exception as exc:
            raise self._failure(exc, "read") from None

    def write(self, name: str, data: bytes) -> None:
        target = self.location(name)
        if self._client is None:
            try:
                Path(target.local_path).parent.mkdir(parents=True, exist_ok=True)
                Path(target.local_path).write_bytes(data)
            except OSError as exc:
                raise StorageLocationError(
                    f"cannot write {target.masked}: {exc.strerror or type(exc).__name__}"
                ) from None
            return
        try:
            self._client.upload_blob(target.path, data, overwrite=True)
        except Exception as exc:
            raise self._failure(exc, "write") from None

    def _failure(self, exc: Exception, doing: str) -> Exception:
        from azure.core.exceptions import ResourceNotFoundError

        from common.storage.credentials import describe_failure

        if isinstance(exc, ResourceNotFoundError):
            return ConfigurationError(
                f"the config container {self.url.masked} does not exist: provision it first (`azd provision`)"
            )
        return describe_failure(self.url, exc, doing)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def push(
    config_url: str | None,
    files: dict[str, Path | None],
    *,
    connection_string: str | None = None,
    settings: tuple[ConfigSetting, ...] = CONFIG_FILES,
) -> list[Pushed]:
    """Upload the given files (`files`: variable -> local file) and the defaults still missing; return every setting.

    Every given file is read and checked before anything is uploaded: one bad file uploads nothing."""
    if not config_url:
        raise ConfigurationError(
            "no config location: pass --config-url or set CHARGEBACK_CONFIG_URL (`azd env get-values` has it)"
        )
    url = parse_storage_url(config_url)
    checked: dict[str, tuple[bytes, str]] = {}
    for setting in settings:
        path = files.get(setting.variable)
        if path is None:
            continue
        config = read_config_file(str(path), what=setting.what)
        setting.check(config.text(), config.location)
        checked[setting.variable] = (config.data, config.sha256)
    target = _Target(url, connection_string)
    try:
        plan: list[tuple[ConfigSetting, str, bytes | None]] = []
        for setting in settings:
            if setting.variable in checked:
                plan.append((setting, "uploaded", checked[setting.variable][0]))
            elif target.exists(setting.blob):
                plan.append((setting, "kept", None))
            elif setting.default is not None:
                plan.append((setting, "default", setting.default()))
            else:
                raise ConfigurationError(
                    f"{setting.variable}: no {setting.what} at {target.location(setting.blob).masked} yet; "
                    f"give {setting.option} FILE (the nightly job fails without it)"
                )
        pushed = []
        for setting, action, data in plan:
            digest = ""
            if data is not None:
                target.write(setting.blob, data)
                digest = hashlib.sha256(data).hexdigest()
            pushed.append(Pushed(setting, _job_url(target.location(setting.blob)), action, digest))
        return pushed
    finally:
        target.close()


def _job_url(url: StorageUrl) -> str:
    """The value the job's setting takes: the local path, or the blob's URL (never a secret: URLs carry none)."""
    return url.local_path if url.kind is StorageKind.LOCAL else url.masked
