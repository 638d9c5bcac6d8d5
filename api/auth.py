"""Who is asking, and which teams' rows they may read.

Microsoft Entra ID access tokens are verified against the tenant's published keys (signature, issuer, audience,
expiry, not-before). App roles decide the scope: `Chargeback.Read.All` reads everything; `Chargeback.Read.Team`
reads only the teams named by the token's `team_claim` values (mapped through `group_teams`). Anything else is
refused. An API key (local use only) reads everything.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import jwt
from jwt import PyJWKClient

from api.settings import ApiSettings, AuthMode

ROLE_ALL = "Chargeback.Read.All"
ROLE_TEAM = "Chargeback.Read.Team"
ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Principal:
    subject: str
    all_teams: bool
    teams: frozenset[str] = frozenset()

    def may_read(self, team: str | None) -> bool:
        return self.all_teams or (team is not None and team in self.teams)


class Unauthenticated(Exception):
    """No usable credential: HTTP 401."""


class Forbidden(Exception):
    """A valid credential without the right to this data: HTTP 403."""


class Authenticator:
    def __init__(self, settings: ApiSettings) -> None:
        self._settings = settings
        self._keys = (
            PyJWKClient(settings.keys_url(), cache_keys=True, lifespan=3600, timeout=10)
            if (settings.auth is AuthMode.ENTRA)
            else None
        )

    def principal(self, authorization: str | None, api_key: str | None) -> Principal:
        if self._settings.auth is AuthMode.API_KEY:
            return self._from_key(api_key)
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthenticated("a bearer token is required")
        return self._from_token(authorization[7:].strip())

    def _from_key(self, api_key: str | None) -> Principal:
        expected = self._settings.key.get_secret_value() if self._settings.key else ""
        if not api_key or not expected or not hmac.compare_digest(api_key.encode(), expected.encode()):
            raise Unauthenticated("a valid X-Api-Key header is required")
        return Principal(subject="api-key", all_teams=True)

    def _from_token(self, token: str) -> Principal:
        assert self._keys is not None
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self._settings.audience,
                issuer=self._settings.issuer_url(),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError:
            raise Unauthenticated("the tenant's signing keys cannot be fetched") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {type(exc).__name__}") from None
        roles = claims.get("roles") or []
        subject = str(claims.get("oid") or claims.get("sub") or "unknown")
        if ROLE_ALL in roles:
            return Principal(subject=subject, all_teams=True)
        if ROLE_TEAM in roles:
            teams = self._teams(claims.get(self._settings.team_claim))
            if not teams:
                raise Forbidden("the token maps to no team")
            return Principal(subject=subject, all_teams=False, teams=teams)
        raise Forbidden(f"the token has neither app role {ROLE_ALL} nor {ROLE_TEAM}")

    def _teams(self, values: object) -> frozenset[str]:
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list):
            return frozenset()
        mapping = self._settings.group_teams
        if not mapping:
            return frozenset(str(v) for v in values)
        return frozenset(team for value in values for team in mapping.get(str(value), []))
