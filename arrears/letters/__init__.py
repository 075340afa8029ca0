"""Letters: letter templates, the organisation's letterhead, and PDF letters to accounts owed."""
