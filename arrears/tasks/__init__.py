"""Tasks: a call or a visit an agent owes an account by a date (opened by hand, by a broken promise,
later by a strategy step), open until done or cancelled."""
