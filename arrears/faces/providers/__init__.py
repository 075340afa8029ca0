"""Provider callbacks (no bearer token: the organisation's `callback_token` is in the path; a wrong
one is 404). Errors use the operations body, {"detail": "…"}.

- POST /providers/smsportal/dlr/{token}: SMSPortal delivery reports and replies (Webhooks V2 JSON,
  one object or an array; form-encoded bodies are read too).
- POST /providers/smsportal/replies/{token}: the same handler, for a separate replies webhook.
- POST /providers/sendgrid/events/{token}: the SendGrid Event Webhook (signed when a verification
  key is configured).

Every answer is 200 with counts once the token is right: a report for a message we do not know is
kept and logged, never an error, so that the provider does not retry it forever.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request

from arrears.errors import ValidationFailed
from arrears.faces.deps import SessionDep
from arrears.messaging import receipts

router = APIRouter(prefix="/providers", tags=["Provider callbacks"])


async def _smsportal_payload(request: Request) -> Any:
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    if not body:
        return dict(request.query_params)
    if "application/x-www-form-urlencoded" in ctype:
        return dict(parse_qsl(body.decode("utf-8", "replace")))
    try:
        return json.loads(body)
    except ValueError:
        raise ValidationFailed("The body is not JSON") from None


@router.post("/smsportal/dlr/{token}", summary="SMSPortal delivery reports and replies")
async def smsportal_dlr(token: str, request: Request, session: SessionDep) -> dict[str, int]:
    tally = await receipts.smsportal(session, token, await _smsportal_payload(request))
    return tally.as_dict()


@router.post("/smsportal/replies/{token}", summary="SMSPortal replies (an inbound STOP opts out)")
async def smsportal_replies(token: str, request: Request, session: SessionDep) -> dict[str, int]:
    tally = await receipts.smsportal(session, token, await _smsportal_payload(request))
    return tally.as_dict()


@router.post("/sendgrid/events/{token}", summary="SendGrid Event Webhook")
async def sendgrid_events(token: str, request: Request, session: SessionDep) -> dict[str, int]:
    body = await request.body()
    tally = await receipts.sendgrid(session, token, body, request.headers)
    return tally.as_dict()


__all__ = ["router"]
