"""Message templates: the AAMA placeholders, validation and rendering (SMS text and email).

Rendering is one regex pass over the template. A value is inserted as plain text and never read
again, so a customer called "[TotalBalance]" or "{{7*7}}" is printed exactly as written: there is
no template language to inject into (the spec's "prevents template injection attacks").
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

from arrears.errors import ValidationFailed
from arrears.messaging.ageing import AgeBuckets, oldest_age_bracket, overdue_amount
from arrears.messaging.errors import MessagingErrorCode

# The spec's "Available Placeholders", in its order: name (without brackets) -> meaning.
PLACEHOLDERS: dict[str, str] = {
    "CustomerName": "Customer name",
    "AccountCode": "Account code/number",
    "TotalBalance": "Total outstanding balance",
    "Current": "Current amount (0-30 days)",
    "30Days": "30-59 days amount",
    "60Days": "60-89 days amount",
    "90Days": "90-119 days amount",
    "120Days": "120+ days amount",
    "ContactPerson": "Contact person name",
    "Telephone": "Phone number",
    "OverdueAmount": "Total overdue amount",
    "OldestAgeBracket": "Oldest overdue age bracket",
}
REQUIRED_PLACEHOLDERS: tuple[str, ...] = ("CustomerName", "AccountCode", "TotalBalance")
MAX_TEMPLATE_LENGTH = 1600  # the spec's SMS limit, counted in characters

# Exactly the known names; anything else in brackets is left alone by the renderer.
_PLACEHOLDER_RE = re.compile(r"\[(" + "|".join(re.escape(n) for n in PLACEHOLDERS) + r")\]")
# What a writer probably meant as a placeholder: a short word in square brackets.
_BRACKET_TOKEN_RE = re.compile(r"\[\s*([A-Za-z0-9][A-Za-z0-9 _.+-]{0,39}?)\s*\]")
# Other template syntaxes, flagged only when they name one of ours ({CustomerName}, {{ name }}).
_FOREIGN_TOKEN_RE = re.compile(r"\{\{?\s*([A-Za-z0-9_ ]{1,40}?)\s*\}?\}|<\s*([A-Za-z0-9_]{1,40})\s*>"
                               r"|%([A-Za-z0-9_]{1,40})%")


def token(name: str) -> str:
    """The placeholder as written in a template: "CustomerName" -> "[CustomerName]"."""
    return f"[{name}]"


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_NORM = {_norm(n): n for n in PLACEHOLDERS}


def _suggest(name: str) -> str | None:
    """The known placeholder a mistyped one most likely meant ("customer name", "Days30")."""
    norm = _norm(name)
    if norm in _BY_NORM:
        return _BY_NORM[norm]
    # "Days30" / "days 30" mean [30Days]: numbers lead in our names.
    digits_first = "".join(re.findall(r"\d", norm)) + "".join(re.findall(r"[a-z]", norm))
    if digits_first in _BY_NORM:
        return _BY_NORM[digits_first]
    close = difflib.get_close_matches(norm, list(_BY_NORM), n=1, cutoff=0.6)
    return _BY_NORM[close[0]] if close else None


# --- amounts -------------------------------------------------------------------------------

_CENT = Decimal("0.01")


def to_decimal(value: Any, field: str = "amount") -> Decimal:
    """Money in: Decimal, int or a numeric string. Floats are refused (binary rounding)."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{field} must be a Decimal, int or numeric string, not {type(value).__name__}")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{field} is not a number: {value!r}") from None
    else:
        raise TypeError(f"{field} must be a Decimal, int or numeric string, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{field} must be a finite number, not {value!r}")
    return result


def format_amount(value: Decimal | int) -> str:
    """9000 -> "9,000.00": thousands separator, two decimals, no currency (templates write R)."""
    amount = to_decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)
    if amount == 0:
        amount = abs(amount)  # never print "-0.00"
    return f"{amount:,.2f}"


# --- context -------------------------------------------------------------------------------

_ZERO = Decimal("0")
_MONEY_FIELDS = ("total_balance", "current", "d30", "d60", "d90", "d120", "d150", "d180")
# Spec account fields (GET /api/uploads/{id}/accounts) accepted by from_mapping.
_ALIASES = {
    "amount_current": "current",
    "amount_30d": "d30",
    "amount_60d": "d60",
    "amount_90d": "d90",
    "amount_120d": "d120",
    "amount_150d": "d150",
    "amount_180d": "d180",
    "balance": "total_balance",
}


@dataclass(frozen=True, slots=True)
class TemplateContext:
    """One account's values for a template. Money is Decimal (ints and numeric strings are
    converted); overdue_amount and oldest_age_bracket are derived from the buckets when None."""

    customer_name: str
    account_code: str
    total_balance: Decimal
    current: Decimal = _ZERO
    d30: Decimal = _ZERO
    d60: Decimal = _ZERO
    d90: Decimal = _ZERO
    d120: Decimal = _ZERO
    d150: Decimal = _ZERO  # folded into [120Days] ("120+ days")
    d180: Decimal = _ZERO
    contact_person: str = ""
    telephone: str = ""
    overdue_amount: Decimal | None = None
    oldest_age_bracket: str | None = None

    def __post_init__(self) -> None:
        for name in _MONEY_FIELDS:
            object.__setattr__(self, name, to_decimal(getattr(self, name), name))
        if self.overdue_amount is not None:
            object.__setattr__(self, "overdue_amount", to_decimal(self.overdue_amount, "overdue_amount"))
        for name in ("customer_name", "account_code", "contact_person", "telephone"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, "")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TemplateContext:
        """Build from a dict of this class's field names or the spec's account fields
        (amount_current, amount_30d, …). Other keys are ignored; missing buckets are zero."""
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = _ALIASES.get(key, key)
            if name in known and value is not None:
                kwargs[name] = value
        for name in ("customer_name", "account_code", "total_balance"):
            if name not in kwargs:
                raise ValueError(f"template context needs {name!r}")
        return cls(**kwargs)

    def buckets(self) -> AgeBuckets:
        return AgeBuckets(self.current, self.d30, self.d60, self.d90, self.d120, self.d150, self.d180)

    def placeholder_values(self) -> dict[str, str]:
        """Placeholder name -> the text it prints as."""
        buckets = self.buckets()
        overdue = self.overdue_amount if self.overdue_amount is not None else overdue_amount(buckets)
        oldest = self.oldest_age_bracket if self.oldest_age_bracket is not None else oldest_age_bracket(buckets)
        return {
            "CustomerName": str(self.customer_name),
            "AccountCode": str(self.account_code),
            "TotalBalance": format_amount(self.total_balance),
            "Current": format_amount(self.current),
            "30Days": format_amount(self.d30),
            "60Days": format_amount(self.d60),
            "90Days": format_amount(self.d90),
            "120Days": format_amount(buckets.d120_plus),
            "ContactPerson": str(self.contact_person),
            "Telephone": str(self.telephone),
            "OverdueAmount": format_amount(overdue),
            "OldestAgeBracket": oldest,
        }


def _values(ctx: TemplateContext | Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(ctx, TemplateContext):
        ctx = TemplateContext.from_mapping(ctx)
    return ctx.placeholder_values()


# --- rendering -----------------------------------------------------------------------------


def _substitute(template: str, values: Mapping[str, str], escape: bool = False) -> str:
    # A function replacement: values are never parsed as regex escapes (\1, \g<0>).
    if escape:
        return _PLACEHOLDER_RE.sub(lambda m: html.escape(values[m.group(1)]), template)
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], template)


def render_template(template: str, ctx: TemplateContext | Mapping[str, Any]) -> str:
    """The message text: each known placeholder replaced once; unknown brackets left as written
    (validate_template rejects them before a template is used)."""
    return _substitute(template, _values(ctx))


class RenderedEmail(NamedTuple):
    subject: str
    html: str
    text: str


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def _html_paragraphs(escaped: str) -> str:
    escaped = escaped.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [p.strip("\n") for p in _PARAGRAPH_BREAK.split(escaped)]
    return "\n".join(f"<p>{p.replace(chr(10), '<br>' + chr(10))}</p>" for p in paragraphs if p.strip())


def render_email(subject_template: str, body_template: str,
                 ctx: TemplateContext | Mapping[str, Any]) -> RenderedEmail:
    """(subject, html, text). The template is plain text in both parts: in the HTML part the
    template's own text and every value are escaped, blank lines start paragraphs and single
    newlines become <br>. The subject is one line: a newline in a value must not reach a mail
    header."""
    values = _values(ctx)
    subject = _LINE_BREAKS.sub(" ", _substitute(subject_template, values)).strip()
    # Escaping the template first cannot touch a placeholder ([A-Za-z0-9] only), so this is
    # still a single pass, with each value escaped as it goes in.
    body_html = _html_paragraphs(_substitute(html.escape(body_template), values, escape=True))
    text = _substitute(body_template, values)
    return RenderedEmail(subject, body_html, text)


# --- validation ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    code: str  # TEMPLATE_EMPTY | TEMPLATE_TOO_LONG | MISSING_PLACEHOLDER | UNKNOWN_PLACEHOLDER
    message: str  # says what to fix
    placeholder: str | None = None  # the token concerned, as written

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "placeholder": self.placeholder}


def _unknown_message(written: str, inner: str) -> str:
    suggestion = _suggest(inner)
    if suggestion:
        return f"Unknown placeholder {written}: did you mean {token(suggestion)}?"
    known = ", ".join(token(n) for n in PLACEHOLDERS)
    return f"Unknown placeholder {written}: remove it or use one of {known}."


def validate_template(template: str, *, max_length: int = MAX_TEMPLATE_LENGTH,
                      required: tuple[str, ...] = REQUIRED_PLACEHOLDERS) -> list[TemplateProblem]:
    """The spec's rules: at most max_length characters, the required placeholders present, no
    unknown placeholders. An empty list means the template is fine."""
    if not template or not template.strip():
        needed = ", ".join(token(n) for n in required)
        return [TemplateProblem(MessagingErrorCode.TEMPLATE_EMPTY,
                                "Template is empty: write the message" + (f", including {needed}." if needed else "."))]
    problems: list[TemplateProblem] = []
    if len(template) > max_length:
        problems.append(TemplateProblem(
            MessagingErrorCode.TEMPLATE_TOO_LONG,
            f"Template is {len(template):,} characters; shorten it to at most {max_length:,}."))
    present = set(_PLACEHOLDER_RE.findall(template))
    for name in required:
        if name not in present:
            problems.append(TemplateProblem(
                MessagingErrorCode.MISSING_PLACEHOLDER,
                f"Template must contain {token(name)} ({PLACEHOLDERS[name].lower()}); add it.",
                token(name)))
    seen: set[str] = set()
    for m in _BRACKET_TOKEN_RE.finditer(template):
        written, inner = m.group(0), m.group(1)
        if written[1:-1] in PLACEHOLDERS or written in seen:
            continue
        seen.add(written)
        problems.append(TemplateProblem(MessagingErrorCode.UNKNOWN_PLACEHOLDER, _unknown_message(written, inner), written))
    for m in _FOREIGN_TOKEN_RE.finditer(template):
        written = m.group(0)
        inner = next(g for g in m.groups() if g)
        if _norm(inner) in _BY_NORM and written not in seen:
            seen.add(written)
            problems.append(TemplateProblem(
                MessagingErrorCode.UNKNOWN_PLACEHOLDER,
                f"Unknown placeholder {written}: placeholders use square brackets, write "
                f"{token(_BY_NORM[_norm(inner)])}.", written))
    return problems


class TemplateValidationError(ValidationFailed):
    code = MessagingErrorCode.INVALID_TEMPLATE

    def __init__(self, problems: list[TemplateProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems),
                         details=[p.as_dict() for p in problems])
        self.problems = problems


def check_template(template: str, *, max_length: int = MAX_TEMPLATE_LENGTH,
                   required: tuple[str, ...] = REQUIRED_PLACEHOLDERS) -> None:
    """validate_template, raising TemplateValidationError (a domain error, HTTP 400) on problems."""
    problems = validate_template(template, max_length=max_length, required=required)
    if problems:
        raise TemplateValidationError(problems)


# --- built-ins -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuiltinTemplate:
    name: str
    template: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "template": self.template}


# Text copied from the spec's GET /api/messaging/templates.
BUILTIN_TEMPLATES: tuple[BuiltinTemplate, ...] = (
    BuiltinTemplate(
        "Default Payment Reminder",
        "Hi [CustomerName], this is a reminder regarding account [AccountCode] for an outstanding "
        "balance of R[TotalBalance]. Please contact us to arrange payment.",
    ),
    BuiltinTemplate(
        "Friendly Reminder",
        "Hi [CustomerName], hope you're well! This is a friendly reminder about your account "
        "[AccountCode] with an outstanding balance of R[TotalBalance]. Please get in touch when "
        "convenient.",
    ),
)
