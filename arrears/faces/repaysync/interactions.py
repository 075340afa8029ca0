"""§7 Interactions (field visits and calls), and beyond the spec: the due work queue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from arrears.customers import interaction_upload, interactions
from arrears.customers.models import INTERACTION_TYPES, Interaction
from arrears.db import isoz
from arrears.faces.deps import SessionDep, UserDep
from arrears.faces.repaysync.common import (
    UPLOAD_OPENAPI,
    BulkResult,
    DateIn,
    Deleted,
    UploadDep,
    bulk_result,
    spec_fields,
)

router = APIRouter(tags=["RepaySync: interactions"])

RENAME = {"loan_id": "loan", "account_id": "account"}


class InteractionIn(BaseModel):
    """POST and PUT: `loan` and `disposition` are required; `comment` defaults to "" and
    `next_call_date` to null. `timestamp`, `created_by` and `interaction_type` are the server's.
    Beyond the spec: `account` (an account owed's UUID, docs/contracts.md) instead of `loan`,
    exactly one of the two."""

    model_config = ConfigDict(extra="ignore")

    account: str | None = None  # before `loan`: its check reads it
    loan: int | None = Field(default=None, validate_default=True)
    comment: str | None = ""
    disposition: str
    next_call_date: DateIn | None = None
    # Beyond the spec: a promise to pay recorded with the interaction (both or neither).
    promise_amount: Any = None
    promise_date: Any = None

    @field_validator("loan")
    @classmethod
    def _loan_or_account(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None and info.data.get("account") is None:
            raise PydanticCustomError("missing", "Field required")  # the spec's "required" on `loan`
        return value


class InteractionPatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    loan: int | None = None
    account: str | None = None
    comment: str | None = None
    disposition: str | None = None
    next_call_date: DateIn | None = None


class InteractionOut(BaseModel):
    id: int
    loan: int | None
    # Beyond the spec: the account owed it was recorded on, shown only when it was named so (a
    # loan's interaction keeps the spec's shape exactly).
    account: str | None = None
    comment: str
    disposition: str
    timestamp: str
    next_call_date: date | None
    created_by: int | None
    interaction_type: str
    # Beyond the spec: the promise to pay recorded with it (create only; shown only then).
    promise_amount: Decimal | None = None
    promise_date: date | None = None

    @model_serializer(mode="wrap")
    def _spec_shape(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        for name in ("account", "promise_amount", "promise_date"):
            if out.get(name) is None:
                out.pop(name, None)
        if out.get("promise_amount") is not None:
            out["promise_amount"] = str(out["promise_amount"])
        return out


class DueOut(InteractionOut):
    customer: int
    customer_name: str
    loan_account_number: str


def interaction_out(row: Interaction) -> InteractionOut:
    return InteractionOut(id=row.id, loan=row.loan_id, account=str(row.account_id) if row.account_id else None,
                          comment=row.comment, disposition=row.disposition,
                          timestamp=isoz(row.timestamp) or "", next_call_date=row.next_call_date,
                          created_by=row.created_by_id, interaction_type=row.interaction_type)


def _domain(body: BaseModel, *, only_set: bool) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=only_set)
    given = {n: data.pop(n) for n in ("loan", "account") if n in data}
    named = [n for n, v in given.items() if v is not None]
    for name, value in given.items():
        # A null loan or account is "not this one" beside the other, and an error on its own.
        if value is not None or (not named and name in body.model_fields_set):
            data[{"loan": "loan_id", "account": "account_id"}[name]] = value
    return data


@router.post("/api/interactions/bulk/upload/", response_model=BulkResult, status_code=201,
             openapi_extra=UPLOAD_OPENAPI,
             summary="Bulk upload interactions from a CSV file (multipart field `file`)")
async def bulk_upload(upload: UploadDep, caller: UserDep, session: SessionDep) -> BulkResult:
    caller.require_write()
    return bulk_result(await interaction_upload.bulk_create_interactions(session, caller, upload.content()))


@router.get("/api/interactions/due/", response_model=list[DueOut],
            summary="Your work queue: loans whose latest interaction's next_call_date is due")
async def due(caller: UserDep, session: SessionDep,
              on: Annotated[DateIn | None, Query(alias="date")] = None) -> list[DueOut]:
    rows = await interactions.due_interactions(session, caller, on)
    return [DueOut(**interaction_out(i).model_dump(), customer=c.id, customer_name=c.name,
                   loan_account_number=loan.loan_account_number) for i, loan, c in rows]


def _routes(kind: str) -> None:
    """The six §7 endpoints of one interaction type."""
    label = {"field": "field interaction", "calling": "calling interaction"}[kind]
    base = f"/api/interactions/{kind}"

    async def create(body: InteractionIn, caller: UserDep, session: SessionDep) -> InteractionOut:
        with spec_fields(RENAME):
            caller.require_write()
            promise = interactions.clean_promise_fields(body.promise_amount, body.promise_date,
                                                        await interactions.org_today(session, caller.org_id))
            data = _domain(body, only_set=False)
            data.pop("promise_amount", None), data.pop("promise_date", None)
            row = await interactions.create_interaction(session, caller, kind, data)
            out = interaction_out(row)
            if promise is not None:
                await interactions.record_promises(session, caller, [interactions.PromiseRequest(
                    row.id, row.account_id, row.loan_id, *promise)])
                out.promise_amount, out.promise_date = promise
            return out

    async def retrieve(interaction_id: int, caller: UserDep, session: SessionDep) -> InteractionOut:
        return interaction_out(await interactions.get_interaction(session, caller, kind, interaction_id))

    async def put(interaction_id: int, body: InteractionIn, caller: UserDep,
                  session: SessionDep) -> InteractionOut:
        with spec_fields(RENAME):
            # PUT changes only what it is sent (comment and next_call_date are kept when omitted).
            return interaction_out(await interactions.update_interaction(
                session, caller, kind, interaction_id, _domain(body, only_set=True)))

    async def patch(interaction_id: int, body: InteractionPatch, caller: UserDep,
                    session: SessionDep) -> InteractionOut:
        with spec_fields(RENAME):
            return interaction_out(await interactions.update_interaction(
                session, caller, kind, interaction_id, _domain(body, only_set=True)))

    async def remove(interaction_id: int, caller: UserDep, session: SessionDep) -> Deleted:
        await interactions.delete_interaction(session, caller, kind, interaction_id)
        return Deleted(id=interaction_id)

    async def for_loan(loan_id: int, caller: UserDep, session: SessionDep) -> list[InteractionOut]:
        return [interaction_out(r) for r in await interactions.list_interactions(session, caller, kind, loan_id)]

    one = f"{base}/{{interaction_id:int}}/"
    table: list[tuple[str, str, Callable[..., Awaitable[Any]], Any, int, str]] = [
        (f"{base}/create/", "POST", create, InteractionOut, 201, f"Create a {label}"),
        (one, "GET", retrieve, InteractionOut, 200, f"Retrieve a {label}"),
        (one, "PUT", put, InteractionOut, 200, f"Replace a {label}"),
        (one, "PATCH", patch, InteractionOut, 200, f"Update some fields of a {label}"),
        (one, "DELETE", remove, Deleted, 200, f"Delete a {label}"),
        (f"{base}/loan/{{loan_id:int}}/", "GET", for_loan, list[InteractionOut], 200,
         f"List the {label}s of a loan"),
    ]
    for path, method, fn, model, status, summary in table:
        router.add_api_route(path, fn, methods=[method], response_model=model, status_code=status,
                             summary=summary, name=f"{kind}_{fn.__name__}")


for _kind in INTERACTION_TYPES:
    _routes(_kind)
