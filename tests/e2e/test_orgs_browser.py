"""Administering an organization in headless Chromium (issue 18, part 1): create
one, rename it, change its billing address, delete it by typing its name.

After acting through the UI, the test reads what the database holds on a new
connection, not through the page alone.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from portal.domain import demo
from portal.domain.models import AuditEntry, Organization, OrganizationRole
from tests.database import committed
from tests.e2e.conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e


def _engine(server: LiveServer) -> Engine:
    engine: Engine = server.app.extensions["portal.engine"]
    return engine


def _organization(server: LiveServer, org_id: int) -> tuple[str, str] | None:
    """(name, billing address) of org_id as committed, or None if it is gone."""
    with committed(_engine(server)) as connection:
        row = connection.execute(
            select(Organization.name, Organization.billing_address).where(
                Organization.id == org_id
            )
        ).first()
    return None if row is None else (row[0], row[1])


def test_browser_create_rename_readdress_and_delete_an_organization(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.ADMIN)  # no role anywhere yet
    page.goto(f"{live_server.url}/orgs")
    page.get_by_role("link", name="Create an organization").click()
    expect(page.get_by_role("heading", name="Create an organization")).to_be_visible()

    # A name another organization has, in other capitals: refused, said at the field.
    page.get_by_label("Name").fill("the beatles")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "There is already an organization named 'the beatles'"
    )
    page.get_by_label("Name").fill("Wings")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_text("Created Wings. You are its owner.")).to_be_visible()
    expect(page.get_by_role("heading", name="Wings", level=1)).to_be_visible()
    org_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    with committed(_engine(server := live_server)) as connection:
        owner = connection.execute(
            select(OrganizationRole.name).where(
                OrganizationRole.organization_id == org_id
            )
        ).scalar_one()
    assert owner == "OWNER"

    # Rename, from the Settings tab.
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("New name").fill("Paul McCartney and Wings")
    page.get_by_role("button", name="Rename").click()
    expect(
        page.get_by_text("Renamed Wings to Paul McCartney and Wings.")
    ).to_be_visible()
    expect(
        page.get_by_role("heading", name="Paul McCartney and Wings", level=1)
    ).to_be_visible()

    # The billing address, on two lines.
    page.get_by_role("textbox", name="Billing address").fill("1 Cavendish Ave\nLondon")
    page.get_by_role("button", name="Save billing address").click()
    expect(page.get_by_text("The billing address was changed.")).to_be_visible()
    assert _organization(server, org_id) == (
        "Paul McCartney and Wings",
        "1 Cavendish Ave\nLondon",
    )

    # The audit log says all three in words.
    page.get_by_role("link", name="Audit log").click()
    log = page.get_by_role("table", name="Role changes")
    expect(log).to_contain_text("changed the billing address")
    expect(log).to_contain_text(
        "renamed the organization from Wings to Paul McCartney and Wings"
    )
    expect(log).to_contain_text("created the organization as Wings")

    # Delete: the wrong name is refused, the right one deletes it.
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Delete this organization…").click()
    expect(page.get_by_text("1 audit log entry")).to_have_count(0)
    expect(page.get_by_text("3 audit log entries")).to_be_visible()
    confirm = page.get_by_label("Type Paul McCartney and Wings to confirm")
    confirm.fill("Wings")
    page.get_by_role("button", name="Delete Paul McCartney and Wings").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "That is not the organization's name."
    )
    assert _organization(server, org_id) is not None
    page.get_by_label("Type Paul McCartney and Wings to confirm").fill(
        "Paul McCartney and Wings"
    )
    page.get_by_role("button", name="Delete Paul McCartney and Wings").click()
    expect(page.get_by_text("Deleted Paul McCartney and Wings.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your organizations")).to_be_visible()
    assert _organization(server, org_id) is None
    with committed(_engine(server)) as connection:
        left = connection.execute(
            select(AuditEntry.id).where(AuditEntry.organization_id == org_id)
        ).all()
    assert left == []
