"""The premium face (shared/specs/premium-collection-api.md): inbound status webhooks for policies
and collections under `/api/webhooks/…`, their log, and the `/ws` WebSocket. Errors are
`{"error": {"message", "code"}}` with the spec's codes."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter

from arrears.faces.premium import errors, webhooks, ws
from arrears.premiums import webhook_log

errors.install()


@contextlib.asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    yield
    await webhook_log.flush()  # the queued log lines of this process (the hub: state.close())


router = APIRouter(lifespan=_lifespan)
router.include_router(webhooks.router)
router.include_router(ws.router)
