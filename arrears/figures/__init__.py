"""Figures: promises kept and broken, money collected, the collection effectiveness index (read only)."""
