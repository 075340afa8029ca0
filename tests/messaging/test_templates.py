from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.errors import ValidationFailed
from arrears.messaging.templates import (
    BUILTIN_TEMPLATES,
    MAX_TEMPLATE_LENGTH,
    PLACEHOLDERS,
    REQUIRED_PLACEHOLDERS,
    TemplateContext,
    TemplateValidationError,
    check_template,
    format_amount,
    render_email,
    render_template,
    validate_template,
)


def ctx(**overrides: object) -> TemplateContext:
    base: dict[str, object] = dict(
        customer_name="ABC Company Ltd", account_code="ACC001", total_balance=Decimal("9000.00"),
        current=Decimal("5000.00"), d30=Decimal("2500.00"), d60=Decimal("1000.00"),
        d90=Decimal("500.00"), d120=Decimal("0.00"), contact_person="John Smith",
        telephone="27821234567",
    )
    base.update(overrides)
    return TemplateContext(**base)  # type: ignore[arg-type]


VALID = "Hi [CustomerName], account [AccountCode] owes R[TotalBalance]."


# --- the placeholder list ------------------------------------------------------------------

def test_placeholders_are_the_specs_list() -> None:
    assert list(PLACEHOLDERS) == [
        "CustomerName", "AccountCode", "TotalBalance", "Current", "30Days", "60Days", "90Days",
        "120Days", "ContactPerson", "Telephone", "OverdueAmount", "OldestAgeBracket",
    ]
    assert REQUIRED_PLACEHOLDERS == ("CustomerName", "AccountCode", "TotalBalance")


@pytest.mark.parametrize(("placeholder", "expected"), [
    ("[CustomerName]", "ABC Company Ltd"),
    ("[AccountCode]", "ACC001"),
    ("[TotalBalance]", "9,000.00"),
    ("[Current]", "5,000.00"),
    ("[30Days]", "2,500.00"),
    ("[60Days]", "1,000.00"),
    ("[90Days]", "500.00"),
    ("[120Days]", "0.00"),
    ("[ContactPerson]", "John Smith"),
    ("[Telephone]", "27821234567"),
    ("[OverdueAmount]", "4,000.00"),
    ("[OldestAgeBracket]", "90 days"),
])
def test_every_placeholder_renders(placeholder: str, expected: str) -> None:
    assert render_template(f"<{placeholder}>", ctx()) == f"<{expected}>"


def test_all_placeholders_in_one_template() -> None:
    template = " ".join(f"[{name}]" for name in PLACEHOLDERS)
    assert render_template(template, ctx()) == (
        "ABC Company Ltd ACC001 9,000.00 5,000.00 2,500.00 1,000.00 500.00 0.00 John Smith "
        "27821234567 4,000.00 90 days"
    )


def test_builtin_templates_match_the_spec_and_validate() -> None:
    assert [t.name for t in BUILTIN_TEMPLATES] == ["Default Payment Reminder", "Friendly Reminder"]
    assert BUILTIN_TEMPLATES[0].template == (
        "Hi [CustomerName], this is a reminder regarding account [AccountCode] for an outstanding "
        "balance of R[TotalBalance]. Please contact us to arrange payment.")
    assert BUILTIN_TEMPLATES[1].as_dict() == {
        "name": "Friendly Reminder",
        "template": "Hi [CustomerName], hope you're well! This is a friendly reminder about your "
                    "account [AccountCode] with an outstanding balance of R[TotalBalance]. Please "
                    "get in touch when convenient.",
    }
    for t in BUILTIN_TEMPLATES:
        assert validate_template(t.template) == []
    assert render_template(BUILTIN_TEMPLATES[0].template, ctx()) == (
        "Hi ABC Company Ltd, this is a reminder regarding account ACC001 for an outstanding balance "
        "of R9,000.00. Please contact us to arrange payment.")


# --- amounts -------------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "expected"), [
    (Decimal("0"), "0.00"),
    (0, "0.00"),
    (Decimal("1234.5"), "1,234.50"),
    (Decimal("1000000"), "1,000,000.00"),
    (1000000, "1,000,000.00"),
    (Decimal("-1234.5"), "-1,234.50"),
    (Decimal("-0.004"), "0.00"),  # never "-0.00"
    (Decimal("0.005"), "0.01"),  # half up, as money is rounded
    (Decimal("2.675"), "2.68"),
    (Decimal("999.999"), "1,000.00"),
    (Decimal("12345678901.23"), "12,345,678,901.23"),
])
def test_format_amount(amount: Decimal | int, expected: str) -> None:
    assert format_amount(amount) == expected


def test_format_amount_refuses_float_and_nan() -> None:
    with pytest.raises(TypeError):
        format_amount(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        format_amount(Decimal("NaN"))


def test_context_converts_ints_and_strings_and_refuses_floats() -> None:
    c = ctx(total_balance="9,000.50", d30=7)
    assert c.total_balance == Decimal("9000.50") and c.d30 == Decimal(7)
    with pytest.raises(TypeError):
        ctx(total_balance=9000.5)
    with pytest.raises(ValueError):
        ctx(total_balance="lots")


def test_negative_balance_renders_with_minus() -> None:
    assert render_template("R[TotalBalance]", ctx(total_balance=Decimal("-250"))) == "R-250.00"


# --- context from a mapping, derived values ------------------------------------------------

def test_from_mapping_accepts_the_specs_account_fields() -> None:
    account = {
        "id": "uuid", "account_code": "ACC001", "customer_name": "ABC Company Ltd",
        "contact_person": "John Smith", "telephone": "27821234567",
        "amount_current": Decimal("5000.00"), "amount_30d": Decimal("2500.00"),
        "amount_60d": Decimal("1000.00"), "amount_90d": Decimal("500.00"),
        "amount_120d": Decimal("0.00"), "total_balance": Decimal("9000.00"), "is_selected": False,
    }
    assert render_template("[OverdueAmount] [OldestAgeBracket] [ContactPerson]", account) == \
        "4,000.00 90 days John Smith"
    assert TemplateContext.from_mapping(account) == ctx()


def test_from_mapping_needs_the_required_fields() -> None:
    with pytest.raises(ValueError, match="total_balance"):
        TemplateContext.from_mapping({"customer_name": "A", "account_code": "B"})


def test_older_buckets_fold_into_120_days() -> None:
    c = ctx(d120=Decimal("10"), d150=Decimal("20"), d180=Decimal("30"))
    assert render_template("[120Days] [OverdueAmount] [OldestAgeBracket]", c) == \
        "60.00 4,060.00 120+ days"


def test_explicit_overdue_and_oldest_win() -> None:
    c = ctx(overdue_amount=Decimal("1"), oldest_age_bracket="a while")
    assert render_template("[OverdueAmount] [OldestAgeBracket]", c) == "1.00 a while"


def test_none_text_fields_render_empty() -> None:
    assert render_template("<[ContactPerson]>", ctx(contact_person=None)) == "<>"


# --- single pass ---------------------------------------------------------------------------

def test_values_are_never_expanded_again() -> None:
    c = ctx(customer_name="[TotalBalance]", account_code="[CustomerName]")
    assert render_template(VALID, c) == "Hi [TotalBalance], account [CustomerName] owes R9,000.00."


def test_backslashes_in_values_are_literal() -> None:
    c = ctx(customer_name=r"\1 \g<0> \n")
    assert render_template("[CustomerName]", c) == r"\1 \g<0> \n"


def test_unknown_brackets_are_left_as_written() -> None:
    assert render_template("[Foo] [CustomerName] {CustomerName}", ctx()) == \
        "[Foo] ABC Company Ltd {CustomerName}"


# --- validation ----------------------------------------------------------------------------

def codes(template: str) -> list[str]:
    return [p.code for p in validate_template(template)]


def test_valid_template_has_no_problems() -> None:
    assert validate_template(VALID) == []
    assert validate_template(VALID + " [Current] [30Days] [OldestAgeBracket]") == []


def test_length_limit_is_1600_characters() -> None:
    at_limit = VALID + "x" * (MAX_TEMPLATE_LENGTH - len(VALID))
    assert len(at_limit) == 1600 and validate_template(at_limit) == []
    problems = validate_template(at_limit + "x")
    assert [p.code for p in problems] == ["TEMPLATE_TOO_LONG"]
    assert "1,601" in problems[0].message and "1,600" in problems[0].message


@pytest.mark.parametrize("name", ["CustomerName", "AccountCode", "TotalBalance"])
def test_each_required_placeholder_is_required(name: str) -> None:
    problems = validate_template(VALID.replace(f"[{name}]", "x"))
    assert [(p.code, p.placeholder) for p in problems] == [("MISSING_PLACEHOLDER", f"[{name}]")]
    assert f"[{name}]" in problems[0].message and "add it" in problems[0].message


def test_unknown_placeholder_is_rejected() -> None:
    problems = validate_template(VALID + " [Foo] [Foo]")
    assert [(p.code, p.placeholder) for p in problems] == [("UNKNOWN_PLACEHOLDER", "[Foo]")]
    assert "[CustomerName]" in problems[0].message  # lists what may be used


@pytest.mark.parametrize(("written", "meant"), [
    ("[Days30]", "[30Days]"),
    ("[customer name]", "[CustomerName]"),
    ("[ TotalBalance ]", "[TotalBalance]"),
    ("[Telefone]", "[Telephone]"),
    ("{AccountCode}", "[AccountCode]"),
    ("{{ CustomerName }}", "[CustomerName]"),
])
def test_unknown_placeholder_suggests_the_likely_one(written: str, meant: str) -> None:
    problems = validate_template(VALID + " " + written)
    assert [(p.code, p.placeholder) for p in problems] == [("UNKNOWN_PLACEHOLDER", written)]
    assert meant in problems[0].message


def test_ordinary_braces_are_not_placeholders() -> None:
    assert validate_template(VALID + " {see below} <b> 100%") == []


def test_empty_template() -> None:
    assert codes("") == ["TEMPLATE_EMPTY"]
    assert codes("   \n") == ["TEMPLATE_EMPTY"]


def test_several_problems_are_all_reported() -> None:
    assert codes("[Foo] " + "x" * 1600) == [
        "TEMPLATE_TOO_LONG", "MISSING_PLACEHOLDER", "MISSING_PLACEHOLDER", "MISSING_PLACEHOLDER",
        "UNKNOWN_PLACEHOLDER"]


def test_check_template_raises_a_domain_error() -> None:
    check_template(VALID)
    with pytest.raises(TemplateValidationError) as info:
        check_template("Hello [Foo]")
    err = info.value
    assert isinstance(err, ValidationFailed) and err.status == 400 and err.code == "INVALID_TEMPLATE"
    assert {d["code"] for d in err.details} == {"MISSING_PLACEHOLDER", "UNKNOWN_PLACEHOLDER"}


# --- email ---------------------------------------------------------------------------------

def test_render_email_parts() -> None:
    c = ctx(customer_name="Tom <b>& Jerry</b>")
    subject, body_html, text = render_email(
        "Account [AccountCode]: R[TotalBalance]",
        "Dear [CustomerName],\n\nTom & Jerry's account owes R[TotalBalance].\nThank you.\n\n\n", c)
    assert subject == "Account ACC001: R9,000.00"
    assert body_html == (
        "<p>Dear Tom &lt;b&gt;&amp; Jerry&lt;/b&gt;,</p>\n"
        "<p>Tom &amp; Jerry&#x27;s account owes R9,000.00.<br>\nThank you.</p>")
    assert text == "Dear Tom <b>& Jerry</b>,\n\nTom & Jerry's account owes R9,000.00.\nThank you.\n\n\n"


def test_email_subject_stays_one_line() -> None:
    subject, _, _ = render_email("Re [CustomerName]", VALID, ctx(customer_name="A\r\nBcc: x@example.com"))
    assert subject == "Re A Bcc: x@example.com"


def test_email_crlf_bodies_make_paragraphs() -> None:
    _, body_html, _ = render_email("s", "One\r\n\r\nTwo\r\nthree", ctx())
    assert body_html == "<p>One</p>\n<p>Two<br>\nthree</p>"


# --- properties ----------------------------------------------------------------------------

ADVERSARIAL = st.sampled_from([
    "[TotalBalance]", "[CustomerName]", "<script>alert(1)</script>", "<SCRIPT src=x>", "{{7*7}}",
    "{CustomerName}", "${jndi:x}", "%s %d", "\\1", "\\g<0>", "&amp;", "'\"", "]", "[",
])
NAMES = st.one_of(
    st.text(),
    st.lists(st.one_of(ADVERSARIAL, st.text(max_size=5)), max_size=6).map("".join),
)
PROPERTY_TEMPLATE = "Dear [CustomerName], account [AccountCode] owes R[TotalBalance]. Bye [CustomerName]!"


@settings(max_examples=300)
@given(name=NAMES)
def test_names_are_printed_verbatim_where_the_placeholder_was(name: str) -> None:
    c = ctx(customer_name=name, account_code="ACC<1>")
    assert render_template(PROPERTY_TEMPLATE, c) == \
        f"Dear {name}, account ACC<1> owes R9,000.00. Bye {name}!"


@settings(max_examples=300)
@given(name=NAMES)
def test_html_never_contains_markup_from_values(name: str) -> None:
    subject, body_html, text = render_email("Hi [CustomerName]", PROPERTY_TEMPLATE, ctx(customer_name=name))
    assert "<script" not in body_html.lower()
    # The only tags are the ones the renderer writes.
    assert "<" not in re.sub(r"</?p>|<br>", "", body_html)
    assert text == render_template(PROPERTY_TEMPLATE, ctx(customer_name=name))
    assert "\n" not in subject and "\r" not in subject
