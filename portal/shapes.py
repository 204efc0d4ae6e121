"""The JSON shape of each page: the same context the template gets, as data.

One function per template, registered with :func:`shape_of`; portal.negotiation
calls :func:`shape` for a JSON request. A page with a list puts its rows under the
list's name (``{"repos": [{"id": 1, "name": "Abbey Road"}]}``, the shape of Oso's
guide) and where it is in the list under ``"paging"``. Only what the page shows
goes out: ids, names, emails, roles; never a password hash or a session token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import request, url_for
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from portal.authz import access, can
from portal.authz.explain import AccessModel
from portal.clock import as_utc
from portal.models import AuditEntry, Organization, OrganizationRole, Repository
from portal.paging import Page

Context = Mapping[str, Any]
Body = dict[str, Any]
# A shape may set the status of a JSON answer that differs from the page's (a
# confirmation the page asks for with 200 is, for a client, a change not made).
Shaped = Body | tuple[Body, int]

_SHAPES: dict[str, Callable[[Context], Shaped]] = {}


def shape_of(template: str) -> Callable[[Callable[[Context], Shaped]], Any]:
    """Register the decorated function as template's JSON shape."""

    def register(function: Callable[[Context], Shaped]) -> Callable[[Context], Shaped]:
        _SHAPES[template] = function
        return function

    return register


def shape(template: str, context: Context) -> tuple[Body, int | None]:
    """template's JSON body for context, and the status it sets (None: the page's)."""
    shaped = _SHAPES[template](context)
    if isinstance(shaped, tuple):
        return shaped
    return shaped, None


def error_body(status: int, context: Context) -> Body:
    """What went wrong, as the page would say it: the message and, for a form, each
    field's errors (``{"user_email": ["Enter the email of the person."]}``)."""
    errors: dict[str, list[str]] = {}
    form_errors: list[str] = []
    for value in context.values():
        if isinstance(value, FlaskForm):
            form_errors.extend(value.form_errors)
            for name, field in value._fields.items():
                if field.errors:
                    errors.setdefault(name, []).extend(field.errors)
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


# --- pieces ---------------------------------------------------------------------


def organization(org: Organization) -> Body:
    return {"id": org.id, "name": org.name}


def repository(repo: Repository) -> Body:
    return {"id": repo.id, "name": repo.name}


def member(role: OrganizationRole) -> Body:
    return {
        "user": {"id": role.user_id, "email": role.user.email},
        "role": role.name,
        "url": url_for(
            "members.member_show",
            org_id=role.organization_id,
            user_id=role.user_id,
        ),
    }


def audit_entry(entry: AuditEntry) -> Body:
    return {
        "id": entry.id,
        "at": as_utc(entry.at).isoformat(),
        # None: the command line (flask --app portal assign-role ...)
        "actor": entry.actor_email,
        "user": entry.user_email,
        "action": entry.action,
        "old": entry.old_role,
        "new": entry.new_role,
    }


def paging(page: Page[Any], **params: str | None) -> Body:
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


def _member_page(context: Context) -> Body:
    """What every member page says of the member: their role, what it lets them do
    and why, and what the viewer may do about it."""
    membership = context["membership"]
    access: AccessModel = context["access"]
    role: OrganizationRole = membership.role
    may_change, may_remove = can("UPDATE", role), can("DELETE", role)
    return {
        "organization": organization(context["organization"]),
        "member": member(role),
        "yours": membership.is_mine,
        "permissions": [
            {"name": permission.name, "reason": permission.reason}
            for permission in access.explain(role.name)
        ],
        "may_change": may_change,
        "may_remove": may_remove,
        # Why a control is disabled: the page says it next to the control, so
        # only to whoever it shows the control to.
        "change_refused": membership.change_refused if may_change else None,
        "removal_refused": membership.removal_refused if may_remove else None,
    }


# --- pages ----------------------------------------------------------------------


@shape_of("orgs/list.html")
def _organization_list(context: Context) -> Body:
    page = context["organizations"]
    return {
        "orgs": [organization(org) for org in page.items],
        "paging": paging(page),
    }


@shape_of("orgs/show.html")
def _organization_show(context: Context) -> Body:
    org: Organization = context["organization"]
    membership = context["membership"]
    return {
        "organization": organization(org),
        "role": membership.role.name,
        "permissions": [name for name in access(org).permissions if can(name, org)],
    }


@shape_of("orgs/repos.html")
def _repository_list(context: Context) -> Body:
    page = context["repositories"]
    return {
        "organization": organization(context["organization"]),
        "repos": [repository(repo) for repo in page.items],
        "paging": paging(page),
    }


@shape_of("orgs/billing.html")
def _billing(context: Context) -> Body:
    org: Organization = context["organization"]
    return {
        "organization": organization(org),
        "billing_address": org.billing_address,
    }


@shape_of("orgs/roles.html")
def _role_list(context: Context) -> Body:
    page = context["members"]
    search = context["search"]
    return {
        "organization": organization(context["organization"]),
        "members": [member(role) for role in page.items],
        "paging": paging(page, q=search.q.data or None, role=search.role.data or None),
        "counts": dict(context["counts"].by_role),
        "search": {"q": search.q.data or "", "role": search.role.data or ""},
    }


@shape_of("orgs/member.html")
def _member_show(context: Context) -> Body:
    return _member_page(context)


@shape_of("orgs/member_delete.html")
def _member_removal(context: Context) -> Body:
    return {**_member_page(context), "loses": list(context["lost"])}


@shape_of("orgs/member_confirm.html")
def _member_confirmation(context: Context) -> Shaped:
    """The confirmation as its page's form makes it: what to POST where (the
    member's URL, whichever form asked: the assign form has no confirm field)."""
    role: OrganizationRole = context["membership"].role
    url = url_for(
        "members.member_update", org_id=role.organization_id, user_id=role.user_id
    )
    send = {"name": context["form"].name.data, "current": role.name, "confirm": "yes"}
    body = {
        **_member_page(context),
        "status": 409,
        "message": (
            "This change takes access away from you: to make it, POST"
            f' {{"name": "{send["name"]}", "current": "{send["current"]}",'
            f' "confirm": "yes"}} to {url}.'
        ),
        "confirm": {"url": url, "body": send},
        "gains": list(context["gained"]),
        "loses": list(context["lost"]),
    }
    return body, 409


@shape_of("orgs/audit.html")
def _audit(context: Context) -> Body:
    page = context["entries"]
    return {
        "organization": organization(context["organization"]),
        "entries": [audit_entry(entry) for entry in page.items],
        "paging": paging(page),
    }


@shape_of("auth/login.html")
def _login(context: Context) -> Body:
    return {}


@shape_of("account/password.html")
def _password(context: Context) -> Body:
    return {}


def http_error_message(error: HTTPException, fallback: str) -> str:
    """The message of an HTTP error: the view's own description, else fallback."""
    if error.description != type(error).description and error.description:
        return error.description
    return fallback
