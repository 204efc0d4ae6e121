"""Repositories and their roles in headless Chromium (issue 18): create an
organization, add a repository, give someone a role on it, see it on the
repository's page with its reason, delete the repository, delete the
organization by typing its name.

After acting through the UI, the test reads what the database holds on a new
connection, not through the page alone.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from portal.domain import demo
from portal.domain.models import Organization, Repository, RepositoryRole, User
from tests.database import committed
from tests.e2e.conftest import LiveServer, mailed_invitation, sign_in

pytestmark = pytest.mark.e2e


def _engine(server: LiveServer) -> Engine:
    engine: Engine = server.app.extensions["portal.engine"]
    return engine


def _grants(server: LiveServer, repo_id: int) -> list[tuple[str, str]]:
    """(email, role) of every role granted on repo_id directly, as committed."""
    with committed(_engine(server)) as connection:
        rows = connection.execute(
            select(User.email, RepositoryRole.name)
            .join(User, User.id == RepositoryRole.user_id)
            .where(RepositoryRole.repository_id == repo_id)
            .order_by(User.email)
        ).all()
    return [(email, name) for email, name in rows]


def _exists(server: LiveServer, model: type, row_id: int) -> bool:
    with committed(_engine(server)) as connection:
        found = connection.execute(
            select(model.id).where(model.id == row_id)  # type: ignore[attr-defined]
        ).first()
    return found is not None


def test_browser_repository_roles_from_creation_to_deletion(
    page: Page, live_server: LiveServer
) -> None:
    server = live_server
    sign_in(page, server, demo.ADMIN)  # no role anywhere yet
    page.goto(f"{server.url}/orgs")
    page.get_by_role("link", name="Create an organization").click()
    page.get_by_label("Name").fill("Wings")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_text("Created Wings. You are its owner.")).to_be_visible()
    org_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    # Paul joins Wings as a Member (the People page's "Add people").
    page.get_by_role("link", name="People").click()
    page.locator("summary", has_text="Add people").click()
    page.get_by_label("Email address", exact=True).fill(demo.PAUL)
    page.get_by_label("Role", exact=True).select_option("MEMBER")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"Invitation sent to {demo.PAUL}.")).to_be_visible()
    # Paul accepts, in a browser of his own (issue 19: adding is inviting).
    assert page.context.browser is not None
    with page.context.browser.new_context() as his:
        paul_page = his.new_page()
        sign_in(paul_page, server, demo.PAUL)
        paul_page.goto(server.url + mailed_invitation(server, demo.PAUL))
        paul_page.get_by_role("button", name="Accept").click()
        expect(paul_page.get_by_role("status")).to_contain_text("Welcome to Wings")

    # A repository, from the Repositories page: its creator administers it.
    page.get_by_role("link", name="Repositories").click()
    page.get_by_label("Repository name").fill("Band on the Run")
    page.get_by_role("button", name="Create repository").click()
    expect(page.get_by_text("Created Band on the Run.")).to_be_visible()
    expect(page.get_by_role("heading", name="Band on the Run", level=1)).to_be_visible()
    repo_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    assert _grants(server, repo_id) == [(demo.ADMIN, "ADMIN")]

    # Paul reads it through the base role; he is made a Writer directly.
    people = page.get_by_role("table", name="People with access")
    paul = people.get_by_role("row").filter(has_text=demo.PAUL)
    expect(paul).to_contain_text("Reader")
    expect(paul).to_contain_text("the base role of Wings")
    page.locator("summary", has_text="Give a role").click()
    page.get_by_label("Email", exact=True).fill(demo.PAUL)
    page.get_by_label("Role", exact=True).select_option("WRITER")
    page.get_by_role("button", name="Give role").click()
    expect(
        page.get_by_text(f"{demo.PAUL} is now a Writer on Band on the Run.")
    ).to_be_visible()
    paul = (
        page.get_by_role("table", name="People with access")
        .get_by_role("row")
        .filter(has_text=demo.PAUL)
    )
    expect(paul).to_contain_text("Writer")
    expect(paul).to_contain_text("granted on this repository directly")
    assert _grants(server, repo_id) == [(demo.ADMIN, "ADMIN"), (demo.PAUL, "WRITER")]

    # Someone with no role in Wings cannot be given one on its repository.
    page.locator("summary", has_text="Give a role").click()
    page.get_by_label("Email", exact=True).fill(demo.MIKE)
    page.get_by_role("button", name="Give role").click()
    expect(page.get_by_role("alert")).to_contain_text(demo.MIKE)
    assert _grants(server, repo_id) == [(demo.ADMIN, "ADMIN"), (demo.PAUL, "WRITER")]

    # Delete the repository: its roles go with it.
    page.get_by_role("link", name="Settings").first.click()
    page.get_by_role("link", name="Delete this repository…").click()
    page.get_by_label("Type Band on the Run to confirm").fill("Band on the Run")
    page.get_by_role("button", name="Delete Band on the Run").click()
    expect(page.get_by_text("Deleted Band on the Run.")).to_be_visible()
    assert not _exists(server, Repository, repo_id)
    assert _grants(server, repo_id) == []

    # Delete the organization, typing its name.
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Delete this organization…").click()
    page.get_by_label("Type Wings to confirm").fill("Wings")
    page.get_by_role("button", name="Delete Wings").click()
    expect(page.get_by_text("Deleted Wings.")).to_be_visible()
    assert not _exists(server, Organization, org_id)
