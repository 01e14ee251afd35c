"""Bearer-token check of every write: 401 without a token, 403 with a wrong one (or none configured)."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["bearer", "check_token"]

bearer = HTTPBearer(auto_error=False, description="FLEAD_AGGREGATOR_TOKEN")


def check_token(expected: str | None, credentials: HTTPAuthorizationCredentials | None) -> None:
    """Raise 401/403 unless the credentials carry the expected bearer token."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={
                "reason": "unauthenticated",
                "message": "Authorization: Bearer <token> required",
            },
            headers={"WWW-Authenticate": "Bearer"},
        )
    if expected is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"reason": "writes_disabled", "message": "FLEAD_AGGREGATOR_TOKEN is not set"},
        )
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail={"reason": "forbidden", "message": "wrong token"}
        )


def token_of(request: Request) -> str | None:
    """The token the app was configured with."""
    token: str | None = request.app.state.settings.token
    return token
