"""REST API: how a request proves who it comes from, and who that is (``GET /api/me``)."""

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.security import HttpBearer

from cartera.accounts.services import api_token_authenticate
from cartera.core.api_common import responses

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>`` with a personal token (``cartera token create``).

    Anything but GET, HEAD and OPTIONS is a write, which a read-only token may not do (403).
    """

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        token = token.strip()
        if not token:
            return None
        return api_token_authenticate(raw=token, write=request.method not in SAFE_METHODS)


router = Router(tags=["account"])


class MeOut(Schema):
    id: int
    username: str
    full_name: str
    email: str
    role: str


@router.get("/me", response=responses({200: MeOut}, 401), summary="The authenticated user")
def get_me(request: HttpRequest) -> dict[str, Any]:
    """Who the token (or session) belongs to, and their role; handy to check a token works."""
    user = request.auth  # type: ignore[attr-defined]
    return {
        "id": user.pk,
        "username": user.username,
        "full_name": user.get_full_name(),
        "email": user.email,
        "role": user.role,
    }
