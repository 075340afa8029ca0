"""Promises to pay: an amount by a date, or a plan of instalments, evaluated against payments and
later reports (open → kept | broken | cancelled)."""
