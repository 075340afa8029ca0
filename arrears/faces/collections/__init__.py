"""The debit-order face: a native API under `/api/v1/collections/…` for debit-order runs, their
bank files, the reconciliation of the bank's answers, reports and settings (issue 10; no spec
documents it, docs/contracts.md "Debit orders" does). It speaks the premium face's conventions:
`{"error": {"message", "code"}}`, UUID ids, money as JSON numbers, `page`/`limit` pagination.
It admits the captive's users (JWT) and its `pct_` API keys with `collections:read|write`."""

from fastapi import APIRouter

from arrears.faces.collections import errors, routes

errors.install()

router = APIRouter()
router.include_router(routes.router)
