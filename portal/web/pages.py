"""Typed pages: what a view hands to portal.web.negotiation.render.

A page is a small frozen dataclass next to its view: its template (a class
attribute), its fields (the template's context, typed, so mypy checks every view's
context) and its ``json()`` (the same data as a JSON body). A page with a list puts
its rows under the list's name (``{"repos": [{"id": 1, "name": "Abbey Road"}]}``,
the shape of Oso's guide) and where it is in the list under ``"paging"``. Only what
the page shows goes out: ids, names, emails, roles; never a password hash or a
session token.

This module holds the base class and the JSON pieces several pages share; nothing
here looks a page up by its template's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from flask import request, url_for
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from portal.domain.models import AuditEntry, Organization
from portal.domain.paging import Page as RowPage
from portal.infra.clock import as_utc

Body = dict[str, Any]


@dataclass(frozen=True)
class PageView:
    """One page: its template, its fields (the template's context) and its JSON."""

    template: ClassVar[str]

    def context(self) -> dict[str, Any]:
        """The fields by name, as the template sees them (not copied: a form stays
        the form)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def json(self) -> Body:
        """The page's data as a JSON body (an empty object unless a page says more)."""
        return {}

    def json_status(self, status: int) -> int:
        """The status of the JSON answer to a page rendered with status: the same,
        unless a page says otherwise (a confirmation the page asks for with 200 is,
        for a client, a change not made)."""
        return status

    def error_json(self, status: int) -> Body:
        """The JSON body of the page rendered with an error status (400 and up)."""
        return error_body(status, self.context())


def error_body(status: int, context: Mapping[str, Any]) -> Body:
    """What went wrong, as the page would say it: the message and, for a form, each
    field's errors (``{"user_email": ["Enter the email of the person."]}``)."""
    errors, form_errors = _form_errors(context)
    message = context.get("message")
    problem = context.get("error")
    if message is None and isinstance(problem, str):
        message = problem
    if message is None and form_errors:
        message = " ".join(form_errors)
    if message is None and len(errors) == 1:
        message = next(iter(errors.values()))[0]
    if message is None and errors:
        message = "Correct the fields listed in errors."
    if message is None:
        message = HTTP_STATUS_CODES.get(status, "Error")
    body: Body = {"status": status, "message": message}
    if errors:
        body["errors"] = errors
    return body


def _form_errors(
    context: Mapping[str, Any],
) -> tuple[dict[str, list[str]], list[str]]:
    """The errors of the forms in context: per field, and of whole forms."""
    errors: dict[str, list[str]] = {}
    form_errors: list[str] = []
    for value in context.values():
        if isinstance(value, FlaskForm):
            form_errors.extend(value.form_errors)
            for name, field in value._fields.items():
                if field.errors:
                    errors.setdefault(name, []).extend(field.errors)
    return errors, form_errors


def http_error_message(error: HTTPException, fallback: str) -> str:
    """The message of an HTTP error: the view's own description, else fallback."""
    if error.description != type(error).description and error.description:
        return error.description
    return fallback


# --- pieces several pages share ---------------------------------------------------


def organization_json(org: Organization) -> Body:
    """An organization as every page names it."""
    return {"id": org.id, "name": org.name}


def paging_json(page: RowPage[Any], **params: str | None) -> Body:
    """Where page is in its list, with the links to its neighbours; params are the
    list's own query parameters (a search), kept in the links as the page's pager
    keeps them (None: left out)."""
    return {
        "page": page.number,
        "per_page": page.per_page,
        "total": page.total,
        "pages": page.pages,
        "prev": _page_url(page.number - 1, params) if page.has_prev else None,
        "next": _page_url(page.number + 1, params) if page.has_next else None,
    }


def _page_url(number: int, params: Mapping[str, str | None]) -> str:
    """The list's URL at page number. Only the route's own values and params go
    to url_for: any other query argument would be taken as one of its options
    (_external, _anchor, _method ...) or clash with a route value."""
    values: dict[str, Any] = {**(request.view_args or {}), **params, "page": number}
    return url_for(request.endpoint or "", **values)


def entry_json(entry: AuditEntry) -> Body:
    """One audit entry, its time in UTC."""
    return {
        "id": entry.id,
        "at": as_utc(entry.at).isoformat(),
        # None: the command line (flask --app portal assign-role ...)
        "actor": entry.actor_email,
        "user": entry.user_email,
        "action": entry.action,
        "old": entry.old_role,
        "new": entry.new_role,
        # The name before and after (rename, rename_repository; create: new
        # only), or the base repository role's codes (null: none).
        "old_value": entry.old_value,
        "new_value": entry.new_value,
        # The repository the entry is about (null: the organization or its
        # roles); its id is null once the repository is deleted, its name stays.
        "repository": (
            None
            if entry.repository_name is None
            else {"id": entry.repository_id, "name": entry.repository_name}
        ),
    }
