"""Administering repositories: creating one (the form on the repositories page),
renaming it (its settings page) and deleting it.

Every view follows the house order on consecutive lines: load the resource (404
if it does not exist, or if the repository is another organization's), authorize,
act, render. Changes go through portal.domain.repositories inside
``db.transaction``; a refused change (portal.domain.names.Refused) comes back as
the field's error with the status the error carries. Who may do what is the
policy's: the organization's CREATE_REPO, and the repository's UPDATE (rename,
and the settings page) and DELETE.

A deletion is logged (logger ``portal``, level WARNING, "repository deleted: ..."
with the ids, name, actor and how many direct grants went with it) once
committed, as an organization's deletion is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from flask import Blueprint, abort, current_app, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.authz import authorize, can
from portal.domain import repositories
from portal.domain.models import Organization, Repository, User
from portal.domain.names import Refused
from portal.forms import (
    DeleteRepositoryForm,
    NameSearchForm,
    RepositoryForm,
    RepositorySettingsForm,
)
from portal.infra import db
from portal.web.loaders import load_organization, load_repository, page_of
from portal.web.negotiation import done, render
from portal.web.pages import Body, PageView, organization_json
from portal.web.repository_list import RepositoryListPage, readable_repositories
from portal.web.wording import full_stop

bp = Blueprint("repositories", __name__)

Row = TypeVar("Row", Organization, Repository)


def _actor() -> User:
    """The signed-in user, who acts."""
    actor: User = current_user._get_current_object()
    return actor


def repository_json(repository: Repository) -> Body:
    """A repository as these pages name it."""
    return {"id": repository.id, "name": repository.name}


def _show_url(repository_id: int, org_id: int) -> str:
    """The repository's own page (its access)."""
    return url_for(
        "repository_access.repository_show", org_id=org_id, repo_id=repository_id
    )


# --- creating a repository ---------------------------------------------------------


@bp.route("/orgs/<id:org_id>/repos", methods=["POST"])
def repository_create(org_id: int) -> ResponseReturnValue:
    """Create a repository in the organization (the form on its repositories
    page); a refused name shows that page again with the error at the field."""
    organization = load_organization(org_id)
    authorize("CREATE_REPO", organization)
    form = RepositoryForm()
    if not form.validate():
        return _render_list(organization, form, 422)
    session, actor = db.get_session(), _actor()
    try:
        with db.transaction(session):
            created = repositories.create_repository(
                session, organization, form.name.data or "", actor
            )
            repo_id, name = created.id, created.name
    except repositories.RepositoryGone:
        abort(404)  # the organization was deleted while this request waited
    except Refused as error:
        form.name.errors = [str(error)]
        # Rolled back: read again under a new lock (404 if it went meanwhile).
        return _render_list(load_organization(org_id), form, error.status)
    current_app.logger.info(
        "repository created: org=%s repo=%s name=%r actor=%s",
        org_id,
        repo_id,
        name,
        actor.id,
    )
    return done(f"Created {full_stop(name)}", _show_url(repo_id, org_id))


def _render_list(
    organization: Organization, form: RepositoryForm, status: int
) -> Response:
    """The repositories page (its first page, unsearched) with form's errors."""
    search = NameSearchForm()
    search.validate()  # a POST carries no search: the whole list
    rows = page_of(readable_repositories(organization, search))
    return render(RepositoryListPage(organization, rows, search, form), status)


# --- settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class RepositorySettingsPage(PageView):
    """The repository's settings: its name, and the way to delete it."""

    template = "repos/settings.html"
    repository: Repository
    form: RepositorySettingsForm

    def json(self) -> Body:
        """The repository, what the viewer may do, and what to send back."""
        repo = self.repository
        return {
            "organization": organization_json(repo.organization),
            "repository": repository_json(repo),
            "may_rename": can("UPDATE", repo),
            "may_delete": can("DELETE", repo),
            # Sent back, a rename made meanwhile by someone else is refused (409)
            # instead of overwritten.
            "form": {"current_name": repo.name},
        }


@bp.route("/orgs/<id:org_id>/repos/<id:repo_id>/settings", methods=["GET", "POST"])
def repository_settings(org_id: int, repo_id: int) -> ResponseReturnValue:
    """GET: the rename form (and the way to delete); POST: rename the repository
    (409 if the form was drawn before someone else renamed it)."""
    repository = load_repository(org_id, repo_id)
    authorize("UPDATE", repository)
    form = RepositorySettingsForm()
    if request.method != "POST":  # GET, and HEAD like it
        return _render_settings(repository, form)
    if not form.validate():
        return _render_settings(repository, form, 422)
    session, actor = db.get_session(), _actor()
    try:
        with db.transaction(session):
            old = repositories.rename_repository(
                session,
                repository,
                form.name.data or "",
                actor,
                expected=form.shown_name,
            )
            new = repository.name
    except repositories.RepositoryGone:
        abort(404)  # deleted while this request waited for its lock
    except Refused as error:
        form.name.errors = [str(error)]
        # Rolled back: read again under a new lock (404 if it went meanwhile).
        return _render_settings(load_repository(org_id, repo_id), form, error.status)
    current_app.logger.info(
        "repository renamed: org=%s repo=%s actor=%s", org_id, repo_id, actor.id
    )
    return done(
        f"Renamed {old} to {full_stop(new)}",
        url_for("repositories.repository_settings", org_id=org_id, repo_id=repo_id),
    )


def _render_settings(
    repository: Repository, form: RepositorySettingsForm, status: int = 200
) -> Response:
    """The settings page; a form not (or not validly) sent shows the name as it
    is, and every form carries the name as it is now."""
    if status in (200, 409) or not form.name.errors:
        form.name.data = repository.name
    form.current_name.data = repository.name
    return render(RepositorySettingsPage(repository, form), status)


# --- deleting ----------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryDeletePage(PageView):
    """The confirmation of a deletion: what goes with the repository, and the
    name to type."""

    template = "repos/delete.html"
    repository: Repository
    grants: int  # roles granted on it directly
    form: DeleteRepositoryForm

    def json(self) -> Body:
        """What goes, and what to POST where to delete it."""
        repo = self.repository
        return {
            "organization": organization_json(repo.organization),
            "repository": repository_json(repo),
            "deletes": {"direct_grants": self.grants},
            "confirm": {
                "url": url_for(
                    "repositories.repository_delete",
                    org_id=repo.organization_id,
                    repo_id=repo.id,
                ),
                "body": {"confirm_name": repo.name},
            },
        }


@bp.route("/orgs/<id:org_id>/repos/<id:repo_id>/delete", methods=["GET", "POST"])
def repository_delete(org_id: int, repo_id: int) -> ResponseReturnValue:
    """GET: what goes with the repository, and the name to type; POST: delete
    it, in one transaction, if the typed name is its name (422 otherwise)."""
    repository = load_repository(org_id, repo_id)
    authorize("DELETE", repository)
    form = DeleteRepositoryForm()
    if request.method != "POST":  # GET, and HEAD like it
        return _render_delete(repository, form)
    if not form.validate():
        return _render_delete(repository, form, 422)
    session, actor = db.get_session(), _actor()
    try:
        with db.transaction(session):
            gone = repositories.delete_repository(
                session, repository, form.confirm_name.data or "", actor
            )
    except repositories.RepositoryGone:
        abort(404)  # deleted by someone else while this request waited
    except Refused as error:
        form.confirm_name.errors = [str(error)]
        # Rolled back: read again under a new lock (404 if it went meanwhile).
        return _render_delete(load_repository(org_id, repo_id), form, error.status)
    _log_deletion(gone)
    return done(
        f"Deleted {full_stop(gone.name)}",
        url_for("orgs.repository_list", org_id=org_id),
    )


def _render_delete(
    repository: Repository, form: DeleteRepositoryForm, status: int = 200
) -> Response:
    """The confirmation page, with what goes with the repository."""
    grants = repositories.direct_grants(db.get_session(), repository.id)
    form.confirm_name.label.text = f"Type {repository.name} to confirm"
    return render(RepositoryDeletePage(repository, grants, form), status)


def _log_deletion(gone: repositories.Deleted) -> None:
    """The record of a deletion in the application log (its audit entry stays
    too, naming it): one WARNING line of the ``portal`` logger, once committed."""
    current_app.logger.warning(
        "repository deleted: org=%s repo=%s name=%r actor=%s direct_grants=%s",
        gone.organization_id,
        gone.repository_id,
        gone.name,
        gone.actor_id,
        gone.grants,
    )
