"""Configuration errors formatted once: one line naming the environment variables a user sets.

Every stage reads its environment through :func:`load_settings`. A pydantic ``ValidationError`` (or
pydantic-settings' ``SettingsError`` for a value that is not valid JSON) becomes a :class:`ConfigurationError` such as
``invalid configuration: CHARGEBACK_LAKE_URL: is required; CHARGEBACK_HEALTH_PORT: Input should be a valid
integer``: never a Python field name, never the value given (which may be a secret).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from common.errors import ConfigurationError

S = TypeVar("S", bound=BaseSettings)

_SETTINGS_FIELD = re.compile(r'field "([^"]+)"')


def env_variable(settings_cls: type[BaseSettings], name: str | int) -> str:
    """The environment variable that sets `name` (a field, or the alias pydantic reports in an error's `loc`)."""
    name = str(name)
    field = settings_cls.model_fields.get(name)
    alias = field.validation_alias if field is not None else None
    if isinstance(alias, str):
        return alias.upper()
    if field is None and any(f.validation_alias == name for f in settings_cls.model_fields.values()):
        return name.upper()
    prefix = str(settings_cls.model_config.get("env_prefix") or "")
    return f"{prefix}{name}".upper()


def validation_problems(exc: ValidationError, settings_cls: type[BaseSettings]) -> list[str]:
    """One `VARIABLE: problem` per error (a cross-field check has no variable: its own message names them)."""
    problems: list[str] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if error["type"] == "missing":
            message = "is required"
        loc = error["loc"]
        problem = f"{env_variable(settings_cls, loc[0])}: {message}" if loc else message
        if problem not in problems:
            problems.append(problem)
    return problems


def configuration_error(
    exc: ValidationError | SettingsError,
    settings_cls: type[BaseSettings],
    *,
    what: str = "configuration",
    extra: Iterable[str] = (),
) -> ConfigurationError:
    """The one-line `ConfigurationError` for a failed settings load."""
    if isinstance(exc, ValidationError):
        problems = validation_problems(exc, settings_cls)
    else:
        match = _SETTINGS_FIELD.search(str(exc))
        variable = env_variable(settings_cls, match.group(1)) if match else "a CHARGEBACK_* variable"
        problems = [f"{variable}: is not valid JSON"]
    problems.extend(p for p in extra if p not in problems)
    return ConfigurationError(f"invalid {what}: " + "; ".join(problems))


def load_settings(settings_cls: type[S], *, what: str = "configuration", **overrides: Any) -> S:
    """Read the environment once into `settings_cls`; a `ConfigurationError` names every offending variable."""
    try:
        return settings_cls(**overrides)
    except (ValidationError, SettingsError) as exc:
        raise configuration_error(exc, settings_cls, what=what) from None
