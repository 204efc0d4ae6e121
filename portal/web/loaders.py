"""Loaders for views: each returns the row (or page of rows) or ends the request
with 404 (or 400 for a malformed page number) itself.

Views therefore never hold an Optional, and ``authorize()`` is never asked about
``None``. Load, then authorize: a loader's 404 reveals only that the row does not
exist, which is also what ``authorize()`` answers for a row the user may not READ.
"""

from __future__ import annotations

from typing import Any

from flask import abort, request
from sqlalchemy import Select, select

from portal.domain import paging, roles
from portal.domain.models import Organization, OrganizationRole, Repository
from portal.infra import db


def load_organization(org_id: int) -> Organization:
    """The organization, or 404; locked for the transaction when the request writes.

    The lock is taken before authorizing, so the permission check and the change
    see the same memberships (no concurrent change can slip in between).
    """
    session = db.get_session()
    if request.method in db.SAFE_METHODS:
        organization = session.get(Organization, org_id)
    else:
        organization = roles.lock_organization(session, org_id)
    if organization is None:
        abort(404)
    return organization


def load_repository(org_id: int, repo_id: int) -> Repository:
    """The repository repo_id of organization org_id, or 404 (also for a
    repository of another organization: the URL names both).

    Like load_organization, a request that writes locks the organization first,
    so that the checks and the change see the same roles and grants.
    """
    organization = load_organization(org_id)
    repository = db.get_session().get(Repository, repo_id)
    if repository is None or repository.organization_id != organization.id:
        abort(404)
    return repository


def load_member(organization: Organization, user_id: int) -> OrganizationRole:
    """The role the user holds in organization (with the user), or 404.

    Call it after authorizing on the organization, so that its 404 tells nothing
    to someone who may not see the organization's members.
    """
    role = db.get_session().scalar(
        select(OrganizationRole).where(
            OrganizationRole.organization_id == organization.id,
            OrganizationRole.user_id == user_id,
        )
    )
    if role is None:
        # Also the answer to a form for someone removed meanwhile; it names no
        # one, so it tells nothing about people of other organizations.
        abort(
            404,
            description=f"That person has no role in {organization.name}: they may"
            " have left or been removed.",
        )
    return role


def page_of(statement: Select[Any], *, rows: bool = False) -> paging.Page[Any]:
    """The page of statement's rows that the request's ``page`` asks for (whole
    rows with rows=True, else the first column's values).

    400 for a page value that is not one whole number from 1 up, or for several
    page values; 404 beyond the last page; each says what went wrong in the layout.
    """
    try:
        number = paging.page_number(request.args.getlist("page"))
        return paging.paginate(db.get_session(), statement, number, rows=rows)
    except paging.ListQueryError as error:
        abort(400, description=str(error))
    except paging.PageOutOfRange as error:
        abort(404, description=str(error))
