"""§6 Loans. Money and rates are strings with two decimals ("50000.00", "10.50")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from arrears.customers import loans
from arrears.customers.fields import money
from arrears.customers.models import Loan
from arrears.faces.deps import SessionDep, UserDep
from arrears.faces.repaysync.common import DateIn, Deleted, TextIn, spec_fields

router = APIRouter(tags=["RepaySync: loans"])

RENAME = {"customer_id": "customer"}


class LoanIn(BaseModel):
    """POST and PUT: every field is required."""

    model_config = ConfigDict(extra="ignore")

    loan_account_number: TextIn
    principal_amount: Decimal
    interest_rate: Decimal
    loan_type: str
    tenure_months: int
    loan_date: DateIn
    customer: int


class LoanPatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    loan_account_number: TextIn | None = None
    principal_amount: Decimal | None = None
    interest_rate: Decimal | None = None
    loan_type: str | None = None
    tenure_months: int | None = None
    loan_date: DateIn | None = None
    customer: int | None = None


class LoanOut(BaseModel):
    id: int
    loan_account_number: str
    principal_amount: str
    interest_rate: str
    loan_type: str
    tenure_months: int
    loan_date: date
    customer: int


def loan_out(loan: Loan) -> LoanOut:
    return LoanOut(id=loan.id, loan_account_number=loan.loan_account_number,
                   principal_amount=money(loan.principal_amount),
                   interest_rate=money(loan.interest_rate), loan_type=loan.loan_type,
                   tenure_months=loan.tenure_months, loan_date=loan.loan_date, customer=loan.customer_id)


def _domain(body: BaseModel, *, only_set: bool) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=only_set)
    if "customer" in data:
        data["customer_id"] = data.pop("customer")
    return data


@router.get("/api/loans/", response_model=list[LoanOut], summary="List loans")
async def list_loans(caller: UserDep, session: SessionDep) -> list[LoanOut]:
    return [loan_out(x) for x in await loans.list_loans(session, caller)]


@router.post("/api/loans/", response_model=LoanOut, status_code=201, summary="Create a loan")
async def create_loan(body: LoanIn, caller: UserDep, session: SessionDep) -> LoanOut:
    with spec_fields(RENAME):
        return loan_out(await loans.create_loan(session, caller, _domain(body, only_set=False)))


@router.get("/api/loans/customer/{customer_id:int}/", response_model=list[LoanOut],
            summary="List the loans of a customer")
async def customer_loans(customer_id: int, caller: UserDep, session: SessionDep) -> list[LoanOut]:
    return [loan_out(x) for x in await loans.list_loans(session, caller, customer_id=customer_id)]


@router.get("/api/loans/{loan_id:int}/", response_model=LoanOut, summary="Retrieve a loan")
async def get_loan(loan_id: int, caller: UserDep, session: SessionDep) -> LoanOut:
    return loan_out(await loans.get_loan(session, caller, loan_id))


@router.put("/api/loans/{loan_id:int}/", response_model=LoanOut,
            summary="Update a loan (the spec's fields required; fields not sent are kept)")
async def put_loan(loan_id: int, body: LoanIn, caller: UserDep, session: SessionDep) -> LoanOut:
    with spec_fields(RENAME):
        return loan_out(await loans.update_loan(session, caller, loan_id, _domain(body, only_set=True)))


@router.patch("/api/loans/{loan_id:int}/", response_model=LoanOut, summary="Update some fields of a loan")
async def patch_loan(loan_id: int, body: LoanPatch, caller: UserDep, session: SessionDep) -> LoanOut:
    with spec_fields(RENAME):
        return loan_out(await loans.update_loan(session, caller, loan_id, _domain(body, only_set=True)))


@router.delete("/api/loans/{loan_id:int}/", response_model=Deleted,
               summary="Delete a loan with its interactions (admins, managers)")
async def delete_loan(loan_id: int, caller: UserDep, session: SessionDep) -> Deleted:
    await loans.delete_loan(session, caller, loan_id)
    return Deleted(id=loan_id)
