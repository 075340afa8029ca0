"""JWT access and refresh tokens (PyJWT, HS256)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt

from arrears.config import get_settings
from arrears.db import utcnow
from arrears.errors import Unauthorized
from arrears.identity.errors import IdentityErrorCode

ALGORITHM = "HS256"
ISSUER = "arrears"


def _secret() -> str:
    return get_settings().resolved_secret()


def issue(user_id: int, kind: str, lifetime: timedelta) -> str:
    now = utcnow()
    claims = {"sub": str(user_id), "type": kind, "iat": now, "nbf": now, "exp": now + lifetime,
              "jti": uuid.uuid4().hex, "iss": ISSUER}
    return jwt.encode(claims, _secret(), algorithm=ALGORITHM)


def issue_pair(user_id: int) -> dict[str, str]:
    s = get_settings()
    return {"access": issue(user_id, "access", timedelta(minutes=s.access_token_minutes)),
            "refresh": issue(user_id, "refresh", timedelta(days=s.refresh_token_days))}


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


def decode(token: str, expected_type: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, _secret(), algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "sub", "type"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired; sign in again or refresh it",
                           code=IdentityErrorCode.TOKEN_EXPIRED) from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("Token is invalid", code=IdentityErrorCode.TOKEN_INVALID) from exc
    if claims.get("type") != expected_type:
        article = "an" if expected_type[:1] in "aeiou" else "a"
        raise Unauthorized(f"Token is not {article} {expected_type} token", code=IdentityErrorCode.TOKEN_INVALID)
    return claims
