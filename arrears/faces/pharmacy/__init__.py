"""The pharmacy face (shared/specs/pharmacy-debtors-api.md): /pharmacies/{pharmacy_id}/debtors…
with integer ids, money as JSON numbers and `{"detail": …}` errors. It only translates: the rules
live in arrears.pharmacy."""

from arrears.faces.pharmacy.routes import router

__all__ = ["router"]
