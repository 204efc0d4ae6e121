"""The link an invitation's mail carries (the CLI's ``invite`` prints it)."""

from __future__ import annotations

from portal.web.links import public_url


def invitation_link(token: str) -> str:
    """The absolute address of the invitation page for token, under PUBLIC_URL."""
    return public_url("invitations.invitation_show", token=token)
