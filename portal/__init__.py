"""Portal: a multi-tenant admin portal whose every page is governed by an Oso policy.

``create_app`` reads as a list of what the app is made of; nothing happens at
import time.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from portal import (
    account,
    audit,
    auth,
    authz,
    cli,
    health,
    invitations,
    mail,
    members,
    my_repositories,
    org_settings,
    password_reset,
    repositories,
    repository_access,
    views,
)
from portal.domain import demo, expiry
from portal.infra import db
from portal.infra.config import load_config
from portal.infra.logs import configure_logging
from portal.web import (
    errors,
    guards,
    negotiation,
    refusals,
    security,
    sessions,
    switcher,
    wording,
)
from portal.web.extensions import csrf

__all__ = ["create_app"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py and the environment, then
    test_config."""
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["id"] = IdConverter
    load_config(app, test_config)
    configure_logging(app)
    trust_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    start_mail_sender(app)
    return app


class IdConverter(IntegerConverter):
    """A database id in a URL: ASCII digits, 1 to 2**31 - 1, else no match (404).

    Without the bounds, /orgs/99999999999999999999 reaches the database and fails
    there (SQLite: integer overflow; PostgreSQL: out of range for INTEGER). The
    regex also refuses aliases such as /orgs/01 and /orgs/\uff11 (a full-width 1).
    """

    regex = r"[1-9][0-9]{0,9}"

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=2**31 - 1)


def trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto/-Host/-Port/-Prefix from PROXY_COUNT proxies.

    Each proxy appends to these headers, so only the last PROXY_COUNT entries are
    theirs; anything before could come from the client. 0 (the default) ignores
    the headers: without a proxy, anyone could claim to be on HTTPS or any address.
    """
    count = app.config["PROXY_COUNT"]
    if count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=count,
            x_proto=count,
            x_host=count,
            x_port=count,
            x_prefix=count,
        )


def register_extensions(app: Flask) -> None:
    """Database, headers, HTML or JSON, CSRF, Oso (+ FlaskOso), sessions and the
    login guard."""
    db.init_app(app)
    security.init_app(app)
    negotiation.init_app(app)
    csrf.init_app(app)
    authz.init_app(app)
    sessions.init_app(app)
    guards.init_app(app)
    app.jinja_env.bytecode_cache = app.config["TEMPLATE_BYTECODE_CACHE"]
    # Plain words for policy codes: {{ role.name | role_name }} says "Owner".
    app.jinja_env.filters.update(
        role_name=lambda code: authz.words().role(code).name,
        permission_name=lambda code: authz.words().permission(code).name,
        # A sentence that ends with a name: {{ organization.name | full_stop }}.
        full_stop=wording.full_stop,
        # Time-limited roles: "expires in 3 days" / "expired on 5 Dec 2026",
        # "31 Dec 2026, 00:00 UTC", and whether it has expired (the one clock).
        expiry_note=expiry.describe,
        expiry_time=expiry.long_form,
        audit_time=expiry.audit_time,
        expiry_field=expiry.field_value,
    )
    app.jinja_env.tests.update(expired=expiry.expired)
    # A global, not a context processor, so that imported macros see it too.
    app.jinja_env.globals.update(
        can=authz.can,
        my_role=authz.my_role,
        access=authz.access,
        words=authz.words,
        # The link to what to do about a refused change, if the viewer may.
        next_step=refusals.next_step,
        org_switcher=switcher.organization_switcher,
        # Listed on the login page only when DEMO_ACCOUNTS is on (make run), with
        # the roles they hold now (one query).
        demo_accounts=lambda: demo.accounts(db.get_session()),
        demo_password=demo.PASSWORD,
    )


def register_blueprints(app: Flask) -> None:
    """The pages, by area."""
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(members.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(org_settings.bp)
    app.register_blueprint(repositories.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(my_repositories.bp)
    app.register_blueprint(repository_access.bp)
    app.register_blueprint(health.bp)
    # Issue 19: password reset.
    app.register_blueprint(password_reset.bp)
    # Issue 19: invitations by email (the link's page, Resend and Revoke).
    app.register_blueprint(invitations.bp)


def register_errorhandlers(app: Flask) -> None:
    """Error pages in the layout."""
    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """flask db (migrations), flask init-db, flask seed."""
    cli.init_app(app)


def start_mail_sender(app: Flask) -> None:
    """With MAIL_SEND_IN_PROCESS (make run), send mail from a thread of this
    process; otherwise a process of its own does (send-mail --loop)."""
    if app.config["MAIL_SEND_IN_PROCESS"]:
        mail.start_in_process(app)
