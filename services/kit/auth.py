"""Bearer JWT verification, the caller's principal, role checks, and a token-minting command.

python -m services.kit.auth mint --role enterprise --org 91120116MA05JXXX0X
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.kit.problems import Forbidden, Unauthorized
from services.kit.settings import ServiceSettings

LEEWAY_SECONDS = 30


class Role(StrEnum):
    enterprise = "enterprise"
    evaluator = "evaluator"
    expert = "expert"
    regulator = "regulator"
    sync = "sync"
    service = "service"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's subject, role and organisation (USCC or evaluator id)."""

    sub: str
    role: Role
    org: str | None = None

    def is_(self, *roles: Role) -> bool:
        return self.role in roles


class TokenVerifier:
    """Verifies tokens with the configured key; only the configured algorithm is accepted."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.algorithm = settings.jwt_algorithm
        if self.algorithm == "RS256":
            if not settings.jwt_public_key:
                raise ValueError("RS256 needs jwt_public_key")
            self._key: str = settings.jwt_public_key
        else:
            if settings.jwt_secret is None:
                raise ValueError("HS256 needs jwt_secret")
            self._key = settings.jwt_secret.get_secret_value()
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["sub", "exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired", code="token_expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("the token is not for this platform", code="invalid_token") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("the token is not valid", code="invalid_token") from None
        try:
            role = Role(str(claims.get("role")))
        except ValueError:
            raise Unauthorized("the token carries no known role", code="invalid_token") from None
        org = claims.get("org")
        if role in (Role.enterprise, Role.evaluator) and not org:
            raise Unauthorized("the token needs an org for this role", code="invalid_token")
        return Principal(sub=str(claims["sub"]), role=role, org=str(org) if org else None)


def mint_token(
    secret_or_private_key: str,
    *,
    role: Role | str,
    sub: str,
    org: str | None = None,
    issuer: str = "forerunner",
    audience: str = "forerunner",
    ttl_seconds: int = 3600,
    algorithm: str = "HS256",
    now: int | None = None,
) -> str:
    now = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "sub": sub,
        "role": str(Role(role)),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if org:
        claims["org"] = org
    return jwt.encode(claims, secret_or_private_key, algorithm=algorithm)


class ServiceTokenProvider:
    """The token this service presents to the others: the configured one, or one minted
    from the HS256 secret and minted again before it expires (a long-running replica must not
    start failing its calls when a token it took at start-up runs out)."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        ttl_seconds: int = 3600,
        renew_before_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fixed = settings.service_token.get_secret_value() if settings.service_token else None
        if self._fixed is None and (
            settings.jwt_algorithm != "HS256" or settings.jwt_secret is None
        ):
            raise ValueError("set service_token: this service cannot mint one with its key")
        self._settings = settings
        self._ttl = ttl_seconds
        self._renew_before = renew_before_seconds
        self._clock = clock
        self._token = ""
        self._expires = 0.0

    def __call__(self) -> str:
        if self._fixed is not None:
            return self._fixed
        now = self._clock()
        if now >= self._expires - self._renew_before:
            s = self._settings
            assert s.jwt_secret is not None
            self._token = mint_token(
                s.jwt_secret.get_secret_value(),
                role=Role.service,
                sub=f"service:{s.service_name}",
                issuer=s.jwt_issuer,
                audience=s.jwt_audience,
                ttl_seconds=self._ttl,
                now=int(now),
            )
            self._expires = now + self._ttl
        return self._token


_bearer = HTTPBearer(auto_error=False, description="JWT issued by the platform")


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller, or None for an anonymous public read. A bad token is still refused."""
    if credentials is None:
        if request.headers.get("authorization"):
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return None
    verifier: TokenVerifier = request.app.state.verifier
    principal = verifier.verify(credentials.credentials)
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized()
    return principal


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only the given roles through."""

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}")
        return principal

    return dependency


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def main(argv: list[str] | None = None) -> int:
    from services.kit.settings import SHARED_PREFIX

    class _Settings(ServiceSettings):
        service_name = "cli"

    parser = argparse.ArgumentParser(prog="python -m services.kit.auth")
    sub = parser.add_subparsers(dest="command", required=True)
    mint = sub.add_parser("mint", help="mint a token for local use, signed with the HS256 secret")
    mint.add_argument("--role", required=True, choices=[r.value for r in Role])
    mint.add_argument("--org", help="USCC for an enterprise, body id for an evaluator")
    mint.add_argument("--sub", help="subject (defaults to role:org)")
    mint.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    args = parser.parse_args(argv)

    settings = _Settings()
    if settings.jwt_algorithm != "HS256" or settings.jwt_secret is None:
        print(f"minting needs an HS256 secret ({SHARED_PREFIX}JWT_SECRET)", file=sys.stderr)
        return 2
    if args.role in ("enterprise", "evaluator") and not args.org:
        print(f"--org is required for role {args.role}", file=sys.stderr)
        return 2
    token = mint_token(
        settings.jwt_secret.get_secret_value(),
        role=args.role,
        sub=args.sub or f"{args.role}:{args.org or 'local'}",
        org=args.org,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=args.ttl,
    )
    print(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
