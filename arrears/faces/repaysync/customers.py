"""§5 Customers, and beyond the spec: a customer's timeline."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, WithJsonSchema

from arrears.customers import customer_upload, service, timeline
from arrears.customers.models import Customer
from arrears.db import isoz
from arrears.faces.deps import SessionDep, UserDep
from arrears.faces.repaysync.common import (
    UPLOAD_OPENAPI,
    AnyDate,
    AnyEmail,
    AnyId,
    AnyText,
    BulkResult,
    Deleted,
    UploadDep,
    bulk_result,
    plain,
    spec_fields,
)

router = APIRouter(tags=["RepaySync: customers"])

RENAME = {"assigned_collection_officer_id": "assigned_collection_officer", "phone_e164": "phone"}


class CustomerPatch(BaseModel):
    """PATCH: only the fields given change. Every field takes any JSON value: the domain checks
    them all and names every bad one in one 400 (the schema still says what to send)."""

    model_config = ConfigDict(extra="ignore")

    customer_code: AnyText = None
    name: AnyText = None
    phone: AnyText = None
    email: AnyEmail = None
    assigned_collection_officer: AnyId = None
    address_line_1: AnyText = None
    address_line_2: AnyText = None
    city: AnyText = None
    state: AnyText = None
    pincode: AnyText = None
    date_of_birth: AnyDate = None


class CustomerIn(CustomerPatch):
    """POST and PUT: `name` is required (the domain says so beside every other bad field);
    `customer_code` null or omitted is generated (on PUT it keeps the current code). PUT changes
    only the fields it is sent, as Django REST framework does: a client that sends the spec's
    `{"name", "phone"}` keeps the officer, e-mail and address."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["name"]})

    name: Annotated[Any, WithJsonSchema({"type": "string"})] = None


class CustomerOut(BaseModel):
    id: int
    customer_code: str
    name: str
    phone: str | None
    email: str | None
    assigned_collection_officer: int | None
    address_line_1: str | None
    address_line_2: str | None
    city: str | None
    state: str | None
    pincode: str | None
    date_of_birth: date | None


class TimelineEntryOut(BaseModel):
    type: str
    at: str
    summary: str
    data: dict[str, Any]


def customer_out(c: Customer) -> CustomerOut:
    return CustomerOut(id=c.id, customer_code=c.customer_code, name=c.name, phone=c.phone, email=c.email,
                       assigned_collection_officer=c.assigned_collection_officer_id,
                       address_line_1=c.address_line_1, address_line_2=c.address_line_2, city=c.city,
                       state=c.state, pincode=c.pincode, date_of_birth=c.date_of_birth)


def _domain(body: BaseModel, *, only_set: bool) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=only_set)
    if "assigned_collection_officer" in data:
        data["assigned_collection_officer_id"] = data.pop("assigned_collection_officer")
    return data


@router.get("/api/customers/", response_model=list[CustomerOut],
            summary="List customers (collection officers: those assigned to them)")
async def list_customers(caller: UserDep, session: SessionDep) -> list[CustomerOut]:
    return [customer_out(c) for c in await service.list_customers(session, caller)]


async def _create(body: CustomerIn, caller: UserDep, session: SessionDep) -> CustomerOut:
    with spec_fields(RENAME):
        return customer_out(await service.create_customer(session, caller,
                                                          _domain(body, only_set=True)))


router.add_api_route("/api/customers/", _create, methods=["POST"], status_code=201,
                     response_model=CustomerOut, summary="Create a customer", name="customers_create")
router.add_api_route("/api/customers/create/", _create, methods=["POST"], status_code=201,
                     response_model=CustomerOut, summary="Create a single customer",
                     name="customers_create_single")


@router.post("/api/customers/bulk/upload/", response_model=BulkResult, status_code=201,
             openapi_extra=UPLOAD_OPENAPI,
             summary="Bulk upload customers from a CSV file (multipart field `file`)")
async def bulk_upload(upload: UploadDep, caller: UserDep, session: SessionDep) -> BulkResult:
    caller.require_write()
    result = await customer_upload.bulk_create_customers(session, caller, upload.content())
    return bulk_result(result, RENAME)


@router.get("/api/customers/{customer_id:int}/", response_model=CustomerOut, summary="Retrieve a customer")
async def get_customer(customer_id: int, caller: UserDep, session: SessionDep) -> CustomerOut:
    return customer_out(await service.get_customer(session, caller, customer_id))


@router.put("/api/customers/{customer_id:int}/", response_model=CustomerOut,
            summary="Update a customer (name required; fields not sent are kept)")
async def put_customer(customer_id: int, body: CustomerIn, caller: UserDep,
                       session: SessionDep) -> CustomerOut:
    with spec_fields(RENAME):
        return customer_out(await service.update_customer(session, caller, customer_id,
                                                          _domain(body, only_set=True), require=("name",)))


@router.patch("/api/customers/{customer_id:int}/", response_model=CustomerOut,
              summary="Update some fields of a customer")
async def patch_customer(customer_id: int, body: CustomerPatch, caller: UserDep,
                         session: SessionDep) -> CustomerOut:
    with spec_fields(RENAME):
        return customer_out(await service.update_customer(session, caller, customer_id,
                                                          _domain(body, only_set=True)))


@router.delete("/api/customers/{customer_id:int}/", response_model=Deleted,
               summary="Delete a customer with its loans and interactions (admins, managers)")
async def delete_customer(customer_id: int, caller: UserDep, session: SessionDep) -> Deleted:
    await service.delete_customer(session, caller, customer_id)
    return Deleted(id=customer_id)


@router.get("/api/customers/{customer_id:int}/timeline/", response_model=list[TimelineEntryOut],
            summary="Everything that happened with a customer, newest first")
async def customer_timeline(customer_id: int, caller: UserDep, session: SessionDep
                            ) -> list[TimelineEntryOut]:
    entries = await timeline.timeline(session, caller, customer_id)
    return [TimelineEntryOut(type=e.type, at=isoz(e.at) or "", summary=e.summary, data=plain(e.data))
            for e in entries]
