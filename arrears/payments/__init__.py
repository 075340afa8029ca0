"""Payments against accounts owed: recorded one at a time, in bulk or imported from a CSV or bank
statement export; idempotent by external id; unmatched lines kept for a person to match; reversals."""
