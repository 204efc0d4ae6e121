"""Names of the things people create (organizations, repositories): the rules a
name follows and the refusals that word a broken rule, shared by
portal.domain.org_admin and portal.domain.repositories.

A name is trimmed, 1 to NAME_MAX characters without control characters; where it
must be unique, names are compared as organization_name_key folds them (case
ignored). ``what`` is the noun a message names ("organization", "repository").
"""

from __future__ import annotations

from portal.domain.models import ORGANIZATION_NAME_MAX

#: The longest name (organizations and repositories alike).
NAME_MAX = ORGANIZATION_NAME_MAX


class Refused(Exception):
    """A change that was refused; the message is meant for the user, ``status`` is
    the HTTP status of a request refused with it."""

    status = 422


class InvalidName(Refused):
    """The name is empty, too long or holds control characters."""


class NameTaken(Refused):
    """Another one has this name (compared case-insensitively)."""

    status = 409

    def __init__(self, name: str, what: str = "organization", where: str = "") -> None:
        super().__init__(
            f"There is already {_a(what)} named {shown(name)!r}{where} (names are"
            " compared ignoring case). Choose another name."
        )


class SameName(Refused):
    """A rename to the name it has."""

    def __init__(self, name: str, what: str = "organization") -> None:
        super().__init__(f"The {what} is already named {shown(name)!r}.")


class WrongConfirmation(Refused):
    """The name typed to confirm a deletion is not the name."""

    def __init__(self, what: str = "organization") -> None:
        super().__init__(
            f"That is not the {what}'s name. Type it exactly as shown to delete it."
        )


class ChangedMeanwhile(Refused):
    """What the change would overwrite was changed by someone else after the
    form was drawn (checked under the organization's lock)."""

    status = 409


def checked_name(name: str, what: str = "organization") -> str:
    """name trimmed, if it can be a name; else InvalidName."""
    name = name.strip()
    if not name:
        raise InvalidName(f"Enter a name for the {what}.")
    if len(name) > NAME_MAX:
        raise InvalidName(
            f"Use at most {NAME_MAX} characters for the name ({len(name):,} given)."
        )
    if has_control_characters(name):
        raise InvalidName("Remove the control characters from the name.")
    return name


def same_typed_name(typed: str, name: str) -> bool:
    """Whether typed (to confirm a deletion) is name, surrounding spaces aside."""
    return typed.strip() == name.strip()


def has_control_characters(text: str) -> bool:
    """Whether text holds a C0 or C1 control character (or DEL)."""
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text)


def shown(name: str) -> str:
    """name as a message quotes it: cut after 80 characters."""
    return name if len(name) <= 80 else name[:80] + "…"


def _a(what: str) -> str:
    """what with its indefinite article."""
    return f"an {what}" if what[:1] in "aeiou" else f"a {what}"
