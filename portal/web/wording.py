"""Small helpers for sentences that end with a name the user chose."""

from __future__ import annotations


def full_stop(text: str) -> str:
    """text ending a sentence: "Monsters Inc." stays as it is, "The Beatles"
    gets its full stop ("Monsters Inc.." would be a slip)."""
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."
