"""The shared readers every face and import goes through: CSV text (arrears.csvfiles), multipart
uploads (arrears.faces.multipart), validation errors as field errors (arrears.validation) and the
messaging provider registry."""

from __future__ import annotations

import codecs

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
