"""Error pages in the site's layout, each with a way back."""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask import Flask, current_app, g, request
from flask.globals import request_ctx
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.wrappers import Response

from portal.authz import can, skip_authorization
from portal.domain.models import Organization, OrganizationRole
from portal.domain.overview import Owners, owners
from portal.infra import db
from portal.web.negotiation import render
from portal.web.pages import PageView, http_error_message
from portal.web.sessions import Guest

# What those pages say, for JSON (the templates word them for a person).
_MESSAGES = {
    403: "Your role in this organization does not allow this.",
    404: "There is nothing here, or you don't have access to it.",
    500: "Something went wrong on our side; nothing was changed. Try again.",
}


@dataclass(frozen=True)
class ErrorPage(PageView):
    """An HTTP error in the layout: what went wrong and a way back. Its JSON is the
    error body every page has (``{"status", "message"}``)."""

    template = "errors/error.html"
    error: HTTPException
    message: str
    # Whether the error's description is the view's own (abort(404,
    # description=...)) rather than Werkzeug's generic text for its class.
    specific: bool = False


@dataclass(frozen=True)
class NotFoundPage(ErrorPage):
    """404: nothing here, or nothing the user may see."""

    template = "errors/404.html"


@dataclass(frozen=True)
class ForbiddenPage(ErrorPage):
    """403, naming the organization and what was refused in it when the user may
    read the organization (the page's words; JSON says the same for every one)."""

    template = "errors/403.html"
    organization: Organization | None = None
    action: str | None = None
    on_role: OrganizationRole | None = None
    # Who to ask, named to whoever may see the organization's people (LIST_ROLES).
    owners: Owners | None = None


@dataclass(frozen=True)
class ServerErrorPage(ErrorPage):
    """500: a crash; the layout asks the database nothing more."""

    template = "errors/500.html"


@dataclass(frozen=True)
class CsrfErrorPage(ErrorPage):
    """400 for a write without a valid CSRF token."""

    template = "errors/csrf.html"


@dataclass(frozen=True)
class UnavailablePage(ErrorPage):
    """503: the database is not answering."""

    template = "errors/503.html"


@dataclass(frozen=True)
class BusyPage(ErrorPage):
    """503: a lock wait or a statement ran out of time (another change holds what
    this request needs); nothing was changed."""

    template = "errors/busy.html"


# SQLSTATEs of a wait PostgreSQL cut short: lock_timeout, statement_timeout.
_TIMED_OUT = {"55P03", "57014"}
BUSY = "Another change is being made here right now; try again in a few seconds."


# Errors with a page of their own; every other HTTP error uses errors/error.html.
_PAGES: dict[int, type[ErrorPage]] = {
    403: ForbiddenPage,
    404: NotFoundPage,
    500: ServerErrorPage,
}


def init_app(app: Flask) -> None:
    """Render HTTP errors, CSRF failures and crashes with the site's templates."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
    app.register_error_handler(DBAPIError, _database_error)


def _refused() -> None:
    """Tell FlaskOso's tripwire that this request was decided: it was refused.

    (The tripwire only catches views that return a page without any check.)
    """
    skip_authorization()


def _http_error(error: HTTPException) -> Response:
    """Any HTTP error, in the layout."""
    _refused()
    if request_ctx.url_adapter is None:
        # The request was refused before routing (an untrusted Host header):
        # the layout's links cannot be built, so answer with Werkzeug's page.
        return error.get_response()
    code = error.code or 500
    # A description of the view's own (abort(404, description=...)) says more
    # than the generic text; Werkzeug's class default says nothing specific.
    specific = error.description != type(error).description
    headers = dict(error.get_headers())
    headers.pop("Content-Type", None)
    if code == 403:
        message = _MESSAGES[403]  # JSON says the same for every refusal
    else:
        message = http_error_message(
            error, _MESSAGES.get(code, error.description or "")
        )
    page = _PAGES.get(code, ErrorPage)(error, message, specific)
    if isinstance(page, ForbiddenPage):
        page = _refused_in_organization(page)  # the page's words; JSON ignores them
    return render(page, code, headers)


def _refused_in_organization(page: ForbiddenPage) -> ForbiddenPage:
    """The 403 page with the organization of the refused URL and what was refused
    in it (``organization``, ``action``, ``on_role``), or as it is.

    Only an organization the user may READ is named (the policy is asked): a page
    of one they may not read is a 404 that reveals nothing. The action is the one
    authorize() refused, when it refused it on this organization or on one of its
    roles.
    """
    org_id = (request.view_args or {}).get("org_id")
    if not isinstance(org_id, int) or not current_user.is_authenticated:
        return page
    organization = db.get_session().get(Organization, org_id)
    if organization is None or not can("READ", organization):
        return page
    page = replace(page, organization=organization, owners=_owners(organization))
    action, resource = g.get("refused", (None, None))
    if resource is organization:
        return replace(page, action=action)
    if isinstance(resource, OrganizationRole) and resource.organization_id == org_id:
        return replace(page, action=action, on_role=resource)
    return page


def _owners(organization: Organization) -> Owners | None:
    """The organization's owners to ask, if the user may see who is in it (the
    policy's LIST_ROLES, answered from the request's memo); one statement."""
    if not can("LIST_ROLES", organization):
        return None
    return owners(db.get_session(), organization.id)


def _csrf_error(error: CSRFError) -> Response:
    """A POST without a valid CSRF token: say what to do about it."""
    _refused()
    message = (
        f"{error.description} Send the csrf_token of a recent response in the"
        " X-CSRFToken header."
    )
    return render(CsrfErrorPage(error, message), 400)


def _server_error(error: InternalServerError) -> Response:
    """A crash: undo the request's unfinished work, then say sorry."""
    _refused()
    session = g.get("db_session")
    if session is not None:
        session.rollback()
    return render(ServerErrorPage(error, _MESSAGES[500]), 500)


def _timed_out(error: DBAPIError) -> bool:
    """Whether error is a wait the database cut short (PostgreSQL's lock or
    statement timeout, SQLite's busy timeout), not an outage."""
    if getattr(error.orig, "sqlstate", None) in _TIMED_OUT:
        return True
    return "database is locked" in str(error.orig)


def _busy(error: DBAPIError) -> Response:
    """503 with Retry-After for a wait cut short: logged, rolled back, in words."""
    current_app.logger.warning(
        "database busy during %s %s: %s",
        request.method,
        request.path,
        type(error.orig).__name__,
    )
    session = g.get("db_session")
    if session is not None:
        session.rollback()
    page = BusyPage(ServiceUnavailable(), BUSY)
    return render(page, 503, {"Retry-After": "2"})


# SQLSTATEs of PostgreSQL's undefined_table and undefined_column, and the start
# of SQLite's messages for the same: the database answers, but its schema lacks
# what the code uses (not migrated).
_UNDEFINED = frozenset({"42P01", "42703"})
_SQLITE_UNDEFINED = ("no such table:", "no such column:")


def _schema_behind(error: DBAPIError) -> bool:
    """Whether error says a table or column the code uses is not in the database."""
    if getattr(error.orig, "sqlstate", None) in _UNDEFINED:  # psycopg
        return True
    # SQLite reports it as an OperationalError, like an outage: told apart here.
    return isinstance(error, OperationalError) and _reason(error).startswith(
        _SQLITE_UNDEFINED
    )


def _reason(error: DBAPIError) -> str:
    """The first line of the driver's message (no SQL, no parameters)."""
    return str(error.orig).strip().splitlines()[0] if error.orig else ""


def _schema_behind_error(error: DBAPIError) -> Response:
    """A database behind the code: a logged 500 that names the fix.

    Not a 503: the database answers, and retrying will not help until someone
    migrates it.
    """
    current_app.logger.error(
        "database schema is behind the code during %s %s: %s: run"
        " `flask --app portal db upgrade`",
        request.method,
        request.path,
        _reason(error),
    )
    if "_login_user" not in g:
        # The user loader may be what failed (its table missing): the layout must
        # not ask again, so this page shows it as to a guest.
        g._login_user = Guest()
    return _server_error(InternalServerError(original_exception=error))


def _database_error(error: DBAPIError) -> Response:
    """The database is down or dropped the connection: 503, try again shortly.

    A wait the database cut short (a lock or statement timeout) is a 503 that says
    another change is being made. A schema behind the code is a logged 500 saying
    so; any other database error
    is a bug: re-raised, it becomes a logged 500. pool_pre_ping replaces dead
    connections, so the next request after the database returns succeeds with no
    restart.
    """
    if _schema_behind(error):
        return _schema_behind_error(error)
    if not (isinstance(error, OperationalError) or error.connection_invalidated):
        raise error
    _refused()
    if _timed_out(error):
        return _busy(error)
    reason = _reason(error)
    current_app.logger.warning(
        "database unavailable during %s %s: %s: %s",
        request.method,
        request.path,
        type(error.orig).__name__,
        reason,
    )
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
    # Who is logged in is in the database that is not answering: show the layout
    # as to a guest for this response (Flask-Login keeps the request's user in
    # g._login_user). The session cookie is left alone, so nobody is logged out.
    g._login_user = Guest()
    unavailable = ServiceUnavailable()
    message = "The database is not answering; try again in a few seconds."
    return render(UnavailablePage(unavailable, message), 503, {"Retry-After": "5"})
