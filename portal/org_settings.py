"""Administering organizations: creating one, its settings (the name and the
billing address) and deleting it.

Every view follows the house order on consecutive lines: load the resource (404
if it does not exist), authorize, act, render. Changes go through
portal.domain.org_admin inside ``db.transaction``; a refused change (OrgAdminError)
comes back as the field's error with the status the error carries. Who may do
what is the policy's: CREATE_ORGANIZATION on one's own account, and the
organization's READ_SETTINGS (the page), UPDATE (rename, and the base
repository role every member gets on each repository), UPDATE_BILLING and
DELETE.

A deletion is logged (logger ``portal``, level WARNING, "organization deleted:
..." with the id, name, actor and what went with it) once committed: the record
that outlives the organization, whose audit entries go with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import Field

from portal.authz import authorize, can, repository_access, words
from portal.domain import org_admin
from portal.domain.models import Organization, User
from portal.forms import DeleteOrganizationForm, OrganizationForm, SettingsForm
from portal.infra import db
from portal.web.loaders import load_organization
from portal.web.negotiation import done, render
from portal.web.pages import Body, PageView, organization_json
from portal.web.wording import full_stop

bp = Blueprint("org_admin", __name__)


def _actor() -> User:
    """The signed-in user, who acts."""
    actor: User = current_user._get_current_object()
    return actor


# --- creating an organization ------------------------------------------------------


@dataclass(frozen=True)
class NewOrganizationPage(PageView):
    """The form that creates an organization."""

    template = "orgs/new.html"
    form: OrganizationForm

    def json(self) -> Body:
        """What to POST where."""
        return {"create": {"url": url_for("org_admin.organization_create")}}


@bp.route("/orgs/new")
def organization_new() -> ResponseReturnValue:
    """The form that creates an organization (any signed-in user may)."""
    user = _actor()
    authorize("CREATE_ORGANIZATION", user)
    return render(NewOrganizationPage(OrganizationForm()))


@bp.route("/orgs", methods=["POST"])
def organization_create() -> ResponseReturnValue:
    """Create an organization; its creator becomes its OWNER in the same
    transaction."""
    user = _actor()
    authorize("CREATE_ORGANIZATION", user)
    form = OrganizationForm()
    if not form.validate():
        return render(NewOrganizationPage(form), 422)
    session = db.get_session()
    try:
        with db.transaction(session):
            created = org_admin.create_organization(
                session, form.name.data or "", user, actor=user
            )
            org_id, name = created.id, created.name
    except org_admin.OrgAdminError as error:
        form.name.errors = [str(error)]
        return render(NewOrganizationPage(form), error.status)
    current_app.logger.info(
        "organization created: org=%s name=%r actor=%s", org_id, name, user.id
    )
    message = f"Created {full_stop(name)} You are its owner."
    return done(message, url_for("orgs.organization_show", org_id=org_id))


# --- settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsPage(PageView):
    """The organization's settings: each form shown to whoever may use it."""

    template = "orgs/settings.html"
    organization: Organization
    form: SettingsForm
    # Who gets the base role, in words ("Member"), as the policy says.
    base_holders: str

    def json(self) -> Body:
        """The organization, what the viewer may change, and the address if they
        may change it."""
        org = self.organization
        may_bill, may_update = can("UPDATE_BILLING", org), can("UPDATE", org)
        base_role = org.base_repository_role
        return {
            "organization": organization_json(org),
            "billing_address": org.billing_address if may_bill else None,
            # A repository role code, or null: members get no role.
            "base_repository_role": base_role if may_update else None,
            "may_rename": may_update,
            "may_change_billing_address": may_bill,
            "may_change_base_repository_role": may_update,
            "may_delete": can("DELETE", org),
            # What the forms carry, to send back: a change made meanwhile by
            # someone else is then refused (409) instead of overwritten.
            "form": {
                "current_name": org.name,
                "current_billing_address": org.billing_address if may_bill else None,
                # The base role as the form sends it (NONE: no role).
                "current_base_repository_role": SettingsForm.base_role_value(base_role)
                if may_update
                else None,
            },
        }


@bp.route("/orgs/<id:org_id>/settings")
def settings(org_id: int) -> ResponseReturnValue:
    """The settings page: rename and the base repository role (owners), the
    billing address (owners and billing managers), and the way to delete the
    organization (owners)."""
    organization = load_organization(org_id)
    authorize("READ_SETTINGS", organization)
    return _render_settings(organization, SettingsForm())


@bp.route("/orgs/<id:org_id>/settings", methods=["POST"])
def settings_update(org_id: int) -> ResponseReturnValue:
    """Change what the request sends: the name (UPDATE), the billing address
    (UPDATE_BILLING), the base repository role (UPDATE), or several, in one
    transaction."""
    organization = load_organization(org_id)
    authorize("READ_SETTINGS", organization)
    form = SettingsForm()
    sent = _Sent.of(form)
    if sent.name or sent.base_role:
        authorize("UPDATE", organization)
    if sent.billing_address:
        authorize("UPDATE_BILLING", organization)
    if not form.validate():
        return _render_settings(organization, form, 422)
    if not sent.anything:
        form.form_errors.append(
            "Send a new name, a billing address or a base repository role (or several)."
        )
        return _render_settings(organization, form, 422)
    if _stale(organization, form, sent):
        return _render_settings(organization, form, 409)
    return _apply_settings(organization, form, sent)


@dataclass(frozen=True)
class _Sent:
    """Which of the settings a request changes."""

    name: bool
    billing_address: bool
    base_role: bool

    @classmethod
    def of(cls, form: SettingsForm) -> _Sent:
        """What form sends."""
        return cls(
            form.sent(form.name),
            form.sent(form.billing_address),
            form.sent(form.base_repository_role),
        )

    @property
    def anything(self) -> bool:
        """Whether it changes anything at all."""
        return self.name or self.billing_address or self.base_role


def _stale(organization: Organization, form: SettingsForm, sent: _Sent) -> bool:
    """Whether a form sent was rendered before someone else changed what it
    changes (it says so at its field); a form that does not say what it was
    rendered with is not stale."""
    stale = False
    shown = form.current_name.data
    if sent.name and form.sent(form.current_name) and shown != organization.name:
        form.name.errors = [
            f"The organization was renamed to {organization.name} while you were"
            " looking. Check the name and send it again."
        ]
        stale = True
    shown = form.current_billing_address.data or ""
    if (
        sent.billing_address
        and form.sent(form.current_billing_address)
        and not org_admin.same_address(shown, organization.billing_address)
    ):
        form.billing_address.errors = [
            "The billing address was changed while you were looking: it is shown"
            " as it is now. Check it and send yours again."
        ]
        stale = True
    shown_role = form.current_base_repository_role.data or ""
    if (
        sent.base_role
        and form.sent(form.current_base_repository_role)
        and form.base_role_code(shown_role) != organization.base_repository_role
    ):
        form.base_repository_role.errors = [_BASE_ROLE_CHANGED]
        stale = True
    return stale


_BASE_ROLE_CHANGED = (
    "The base repository role was changed while you were looking: it is shown as"
    " it is now. Check it and send yours again."
)


def _apply_settings(
    organization: Organization, form: SettingsForm, sent: _Sent
) -> ResponseReturnValue:
    """Make the changes form asks for, in one transaction; say what changed."""
    org_id, actor, session = organization.id, _actor(), db.get_session()
    said: list[str] = []
    try:
        with db.transaction(session):
            if sent.name:
                field: Field = form.name
                old = org_admin.rename_organization(
                    session,
                    organization,
                    form.name.data or "",
                    actor=actor,
                    expected=_shown(form, form.current_name),
                )
                said.append(f"Renamed {old} to {full_stop(organization.name)}")
            if sent.billing_address:
                field = form.billing_address
                org_admin.change_billing_address(
                    session,
                    organization,
                    form.billing_address.data or "",
                    actor=actor,
                    expected=_shown(form, form.current_billing_address),
                )
                said.append("The billing address was changed.")
            if sent.base_role:
                field = form.base_repository_role
                role = form.base_role_code(form.base_repository_role.data or "")
                org_admin.change_base_repository_role(
                    session,
                    organization,
                    role,
                    actor=actor,
                    expected=_shown_base_role(form),
                )
                said.append(_base_role_said(organization.name, role))
    except org_admin.OrganizationGone:
        abort(404)  # deleted while this request waited for its lock
    except org_admin.OrgAdminError as error:
        field.errors = [str(error)]
        # Rolled back: the organization as it is, not as the refused change
        # left it, read again under a new lock (404 if it went meanwhile).
        return _render_settings(load_organization(org_id), form, error.status)
    current_app.logger.info(
        "organization settings changed: org=%s actor=%s name=%s billing_address=%s"
        " base_repository_role=%s",
        org_id,
        actor.id,
        sent.name,
        sent.billing_address,
        sent.base_role,
    )
    return done(" ".join(said), url_for("org_admin.settings", org_id=org_id))


def _shown_base_role(form: SettingsForm) -> str | org_admin.Unsaid | None:
    """The base role the form says it was drawn with (UNSAID: it does not say)."""
    field = form.current_base_repository_role
    if not form.sent(field):
        return org_admin.UNSAID
    return form.base_role_code(field.data or "")


def _base_holders() -> str:
    """The organization roles the base repository role goes to, in words
    ("Member"; "Member and Billing manager"): learned from the policy at
    start-up (RepositoryAccess.base_through), not assumed."""
    return words().role_names(repository_access().base_through())


def _base_role_said(organization: str, role: str | None) -> str:
    """What a change of the base repository role means, in words: "Every Member
    of The Beatles is now a Writer on each of its repositories."."""
    holders = _base_holders()
    if role is None:
        return (
            f"Every {holders} of {organization} no longer gets any role on its"
            " repositories; they see only those granted to them."
        )
    term = words().role(role, "Repository")
    return (
        f"Every {holders} of {organization} is now {term.a_name} on each of its"
        " repositories."
    )


def _render_settings(
    organization: Organization, form: SettingsForm, status: int = 200
) -> Response:
    """The settings page; a form that was not (or not validly) sent shows the
    organization's values."""
    if status == 200 or not form.name.errors:
        form.name.data = organization.name
    if status in (200, 409) or not form.billing_address.errors:
        # A stale address is replaced by the current one, to correct again.
        form.billing_address.data = organization.billing_address
    if status in (200, 409) or not form.base_repository_role.errors:
        form.base_repository_role.data = form.base_role_value(
            organization.base_repository_role
        )
    form.current_name.data = organization.name
    form.current_billing_address.data = organization.billing_address
    form.current_base_repository_role.data = form.base_role_value(
        organization.base_repository_role
    )
    return render(SettingsPage(organization, form, _base_holders()), status)


# --- deleting ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeletePage(PageView):
    """The confirmation of a deletion: what goes with the organization, and the
    name to type."""

    template = "orgs/delete.html"
    organization: Organization
    contents: org_admin.Contents
    form: DeleteOrganizationForm

    def json(self) -> Body:
        """What goes, and what to POST where to delete it."""
        org, gone = self.organization, self.contents
        return {
            "organization": organization_json(org),
            "deletes": {
                "repositories": gone.repositories,
                "members": gone.members,
                "audit_entries": gone.audit_entries,
            },
            "confirm": {
                "url": url_for("org_admin.organization_delete", org_id=org.id),
                "body": {"confirm_name": org.name},
            },
        }


@bp.route("/orgs/<id:org_id>/delete", methods=["GET", "POST"])
def organization_delete(org_id: int) -> ResponseReturnValue:
    """GET: what goes with the organization, and the name to type; POST: delete
    it, in one transaction, if the typed name is its name (422 otherwise)."""
    organization = load_organization(org_id)
    authorize("DELETE", organization)
    form = DeleteOrganizationForm()
    if request.method != "POST":  # GET, and HEAD like it
        return _render_delete(organization, form)
    if not form.validate():
        return _render_delete(organization, form, 422)
    session, actor = db.get_session(), _actor()
    try:
        with db.transaction(session):
            gone = org_admin.delete_organization(
                session, org_id, form.confirm_name.data or "", actor=actor
            )
    except org_admin.OrganizationGone:
        abort(404)  # deleted by someone else while this request waited
    except org_admin.OrgAdminError as error:
        form.confirm_name.errors = [str(error)]
        return _render_delete(load_organization(org_id), form, error.status)
    _log_deletion(gone)
    message = f"Deleted {full_stop(gone.name)}"
    return done(message, url_for("orgs.organization_list"))


def _shown(form: SettingsForm, field: Field) -> str | None:
    """What field says the form was drawn with (None: the client did not say)."""
    return (field.data or "") if form.sent(field) else None


def _render_delete(
    organization: Organization, form: DeleteOrganizationForm, status: int = 200
) -> Response:
    """The confirmation page, with what goes with the organization."""
    contents = org_admin.contents(db.get_session(), organization.id)
    form.confirm_name.label.text = f"Type {organization.name} to confirm"
    return render(DeletePage(organization, contents, form), status)


def _log_deletion(gone: org_admin.Deleted) -> None:
    """The record of a deletion that outlives the organization (its audit entries
    went with it): one WARNING line of the ``portal`` logger, once committed."""
    current_app.logger.warning(
        "organization deleted: org=%s name=%r actor=%s"
        " repositories=%s members=%s audit_entries=%s",
        gone.organization_id,
        gone.name,
        gone.actor_id,
        gone.contents.repositories,
        gone.contents.members,
        gone.contents.audit_entries,
    )
