"""The shared readers every face and import goes through: CSV text (arrears.csvfiles), multipart
uploads (arrears.faces.multipart), validation errors as field errors and a body's amounts, dates
and notes (arrears.validation) and the messaging provider registry."""

from __future__ import annotations

import codecs
from datetime import date, datetime
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel, ValidationError

from arrears import csvfiles, validation
from arrears.errors import DomainError
from arrears.faces import multipart


def test_decode_reads_every_encoding_excel_writes():
    text = "name;city\nJosé;Pretoria\n"
    assert csvfiles.decode(text.encode("utf-8")) == text
    assert csvfiles.decode(codecs.BOM_UTF8 + text.encode("utf-8")) == text
    assert csvfiles.decode(text.encode("utf-16")) == text
    assert csvfiles.decode(text.encode("cp1252")) == text
    assert csvfiles.decode("\ufeff" + text) == text
    assert csvfiles.decode(b"\x81") == "\ufffd"


def test_delimiter_from_the_header():
    assert csvfiles.pick_delimiter("reference;amount;status") == ";"
    assert csvfiles.pick_delimiter("reference\tstatus") == "\t"
    assert csvfiles.pick_delimiter("a|b|c") == "|"
    assert csvfiles.pick_delimiter("plain") == ","  # a tie: comma
    # Known names win over a delimiter that merely occurs more often.
    known = {"name", "amount"}
    assert csvfiles.pick_delimiter("name;amount,in,rand", lambda c: c in known) == ";"
    rows = list(csvfiles.records('a,b\n"x\ny",2\n', ","))
    assert rows == [["a", "b"], ["x\ny", "2"]]


def test_answers_csv_reads_windows_1252_and_semicolons():
    from arrears.premiums.acb.answers import parse_answers_csv

    parsed = parse_answers_csv("Reference;Status;Reason\nCOL_1;unpaid;Geen fondse – é\n".encode("cp1252"))
    assert not parsed.errors and parsed.answers[0].reference == "COL_1"
    assert parsed.answers[0].reason == "Geen fondse – é"


class Item(BaseModel):
    name: str
    amount: int


def test_field_errors_one_translation():
    with pytest.raises(ValidationError) as caught:
        Item.model_validate({"amount": "x"})
    fields = validation.field_errors(caught.value.errors())
    assert fields == {"name": ["This field is required."],
                      "amount": ["Input should be a valid integer, unable to parse string as an integer"]}
    assert validation.field_errors([{"loc": ("body", "items", 0, "amount"), "msg": "Value error, bad",
                                     "type": "value_error"}]) == {"items.0.amount": ["bad"]}
    assert validation.field_errors([{"loc": ("items", 0, "amount"), "msg": "m", "type": "x"}],
                                   top_level=True) == {"items": ["m"]}
    err = validation.validation_failed(caught.value)
    assert err.status == 400 and err.message.startswith("Invalid request: name: This field is required.")


@pytest.mark.parametrize(("raw", "want"), [
    ("1250.5", Decimal("1250.50")), (0.1, Decimal("0.10")), (7, Decimal("7.00")), (" 12.34 ", Decimal("12.34")),
    (Decimal("999999999999.99"), Decimal("999999999999.99")),
    (None, "An amount is required."), ("  ", "An amount is required."), (True, "An amount is required."),
    ("abc", "Not a valid amount."), ("0", "at most 999999999999.99"), ("-5", "with at most two decimals"),
    ("1.005", "two decimals"), ("1e15", "at most"), ("NaN", "at most"), ("Infinity", "at most"),
])
def test_one_reading_of_an_amount(raw, want):
    """Accounts' write-offs, promises' instalments and payments read amounts the same way."""
    if isinstance(want, Decimal):
        got = validation.clean_amount(raw)
        assert got == want and got.as_tuple().exponent == -2
    else:
        with pytest.raises(ValueError, match=want):
            validation.clean_amount(raw)


def test_one_reading_of_a_date_and_of_free_text():
    assert validation.clean_date(" 2026-12-07 ") == date(2026, 12, 7)
    assert validation.clean_date(date(2026, 1, 2)) == date(2026, 1, 2)
    assert validation.clean_date(datetime(2026, 1, 2, 23, 59)) == date(2026, 1, 2)
    for raw, message in ((None, "A date (YYYY-MM-DD) is required."), ("", "A date (YYYY-MM-DD) is required."),
                         ("2026-02-30", "Not a valid date (YYYY-MM-DD)."), (20261207, "Not a valid date (YYYY-MM-DD).")):
        with pytest.raises(ValueError) as caught:
            validation.clean_date(raw)
        assert str(caught.value) == message
    assert validation.clean_text("  a note ", 10) == "a note"
    assert validation.clean_text("   ", 10) is None and validation.clean_text(None, 10) is None
    for raw, kw, message in ((5, {}, "Not a valid string."),
                             ("x" * 11, {}, "Ensure this field has no more than 10 characters."),
                             (" ", {"required": "A reason is required."}, "A reason is required.")):
        with pytest.raises(ValueError) as caught:
            validation.clean_text(raw, 10, **kw)
        assert str(caught.value) == message


def test_provider_registry_feeds_the_resolver_and_the_settings_page():
    from arrears.messaging.providers import EMAIL_PROVIDERS, SMS_PROVIDERS, registry

    assert SMS_PROVIDERS == ("smsportal", "gateway", "simulation")
    assert EMAIL_PROVIDERS == ("sendgrid", "smtp", "simulation")
    keys = [s.key for s in registry.organisation_settings()]
    assert keys[0] == "sms_provider" and "email_provider" in keys and len(keys) == len(set(keys))
    assert {s.key for s in registry.organisation_settings() if s.secret} == {
        "smsportal_api_secret", "messaging_api_key", "sendgrid_api_key", "smtp_password"}


def _upload_app() -> FastAPI:
    app = FastAPI()

    @app.post("/up")
    async def up(request: Request) -> dict[str, object]:
        def too_large() -> DomainError:
            return DomainError("too large", status=413)

        try:
            name, sink = await multipart.receive_file(request, lambda _: multipart.MemorySink(10, too_large))
        except multipart.UploadProblem as exc:
            return {"problem": exc.kind}
        except DomainError as exc:
            return {"problem": exc.message}
        return {"name": name, "data": sink.data.decode()}

    return app


async def test_multipart_reader_streams_the_file_part_only():
    transport = httpx.ASGITransport(app=_upload_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        async def post(**kw: object) -> dict[str, object]:
            return (await c.post("/up", **kw)).json()

        assert await post(data={"x": "1"}, files={"file": ("a.csv", b"hello", "text/csv")}) == {
            "name": "a.csv", "data": "hello"}
        assert await post(json={"file": "x"}) == {"problem": "not_multipart"}
        assert await post(data={"file": "text, not a file"}, files={"other": ("b", b"1")}) == {
            "problem": "no_file"}
        assert await post(files={"file": ("big.csv", b"x" * 11)}) == {"problem": "too large"}
        many = {f"f{i}": str(i) for i in range(multipart.MAX_PARTS + 1)}
        assert await post(data=many, files={"file": ("a", b"1")}) == {"problem": "malformed"}
        bad_header = b"--b\r\nContent Disposition: x\r\n\r\ndata\r\n--b--\r\n"
        r = await c.post("/up", content=bad_header, headers={"content-type": "multipart/form-data; boundary=b"})
        assert r.json() == {"problem": "malformed"}
        truncated = b"--b\r\ngarbage"  # the file part never began
        r = await c.post("/up", content=truncated, headers={"content-type": "multipart/form-data; boundary=b"})
        assert r.json() == {"problem": "no_file"}
