"""Managing roles in headless Chromium (issue 8): the member page, changing,
removing and leaving with their confirmations, the last-owner guard, the audit
log, and finding people on the roles page by search, role and page.

Each test has its own live server on its own copy of the seeded database; the
data a test needs beyond the demo's it makes itself with tests/factories.py.
After acting through the UI, each test reads what the database holds on a new
connection (committed_scalar), not through the page alone.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from portal.authz import words
from portal.domain import demo
from portal.domain.models import AuditEntry, OrganizationRole, User
from tests.database import committed
from tests.database import committed_scalar as _scalar
from tests.e2e.conftest import LiveServer, screenshot, sign_in
from tests.factories import (
    bulk_organizations,
    bulk_roles,
    bulk_users,
    make_user,
    unique_number,
)

pytestmark = pytest.mark.e2e

BEATLES = demo.BEATLES_ID
# What the last owner reads on their own pages next to the disabled controls.
LAST_OWNER_LEAVE = (
    "You are the last Owner of The Beatles: make someone else an Owner before you"
    " leave."
)
LAST_OWNER_CHANGE = (
    "You are the last Owner of The Beatles: make someone else an Owner before you"
    " change your role."
)


# --- helpers: the database, read as committed, and the doors a person uses ------


def _engine(server: LiveServer) -> Engine:
    """The live server's engine (the test reads and sets up data through it)."""
    engine: Engine = server.app.extensions["portal.engine"]
    return engine


def _user_id(server: LiveServer, email: str) -> int:
    """The id of the user with that email, which must exist."""
    user_id = _scalar(_engine(server), select(User.id).where(User.email == email))
    assert user_id is not None, f"no user {email}"
    return int(user_id)


def _role_in(server: LiveServer, email: str, org_id: int = BEATLES) -> str | None:
    """The role email holds in org_id as committed now (None: no role)."""
    return _scalar(
        _engine(server),
        select(OrganizationRole.name)
        .join(User)
        .where(User.email == email, OrganizationRole.organization_id == org_id),
    )


def _audit(server: LiveServer, org_id: int = BEATLES) -> list[tuple[str, str | None]]:
    """(action, user email) of org_id's audit entries as committed, newest first."""
    statement = (
        select(AuditEntry.action, AuditEntry.user_email)
        .where(AuditEntry.organization_id == org_id)
        .order_by(AuditEntry.id.desc())
    )
    with committed(_engine(server)) as connection:
        return [(action, email) for action, email in connection.execute(statement)]


def _make_beatles_owner(server: LiveServer, email: str) -> None:
    """Make email an OWNER of The Beatles too (setup, committed)."""
    with Session(_engine(server)) as session:
        user_id = session.scalar(select(User.id).where(User.email == email))
        session.execute(
            update(OrganizationRole)
            .where(
                OrganizationRole.organization_id == BEATLES,
                OrganizationRole.user_id == user_id,
            )
            .values(name="OWNER")
        )
        session.commit()


def _open_member(page: Page, server: LiveServer, email: str) -> None:
    """Open email's member page from The Beatles' roles page, by its link."""
    page.goto(f"{server.url}/orgs/{BEATLES}/roles")
    page.get_by_role("table", name="People").get_by_role(
        "link", name=email, exact=True
    ).click()
    expect(
        page.get_by_role("heading", name=re.compile(r"Change .* role"))
    ).to_be_visible()


def _role_name(server: LiveServer, code: str) -> str:
    """The plain name of the role code ("Billing manager"), as the pages say it."""
    return words(server.app).role(code).name


def _change_role(page: Page, server: LiveServer, email: str, name: str) -> None:
    """Change email's role in The Beatles on their member page."""
    _open_member(page, server, email)
    page.get_by_role("radio", name=_role_name(server, name), exact=True).check()
    page.get_by_role("button", name="Change role").click()


def _add_people(page: Page) -> None:
    """Open the people page's "Add people" disclosure (its form is inside)."""
    page.locator("summary", has_text="Add people").click()
    expect(page.get_by_label("Email address", exact=True)).to_be_visible()


def _row(page: Page, email: str) -> Locator:
    """email's row of the people table."""
    table = page.get_by_role("table", name="People")
    return table.get_by_role("row").filter(
        has=page.get_by_role("link", name=email, exact=True)
    )


def _flash(page: Page) -> Locator:
    """The flash message the last action left."""
    return page.get_by_role("status")


def _rows(page: Page, table: str) -> Locator:
    """The body rows of the table labelled table (the header row left out)."""
    return page.get_by_role("table", name=table).locator("tbody tr")


# --- the member page: changing a role ---------------------------------------------


def test_member_page_shows_the_role_and_what_it_lets_them_do(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    _open_member(page, live_server, demo.RINGO)
    expect(page.get_by_role("heading", name=demo.RINGO, level=2)).to_be_visible()
    expect(page.get_by_text("Role in The Beatles: Member", exact=True)).to_be_visible()
    access = page.get_by_role("region", name="What they can do here as a Member")
    expect(access.get_by_role("listitem")).to_have_count(4)
    expect(access.get_by_role("listitem").first).to_have_text(
        "See the organization Given to every Member and Billing manager."
    )
    # The codes are there for whoever opens the technical details.
    details = access.locator("details.technical")
    expect(details.get_by_text("LIST_ROLES")).to_be_hidden()
    details.get_by_text("Technical details").click()
    expect(details.get_by_text("LIST_ROLES")).to_be_visible()
    # One radio button per role, by its plain name; ringo's own is chosen, and
    # the button waits for another one (portal.js).
    radios = page.get_by_role("radio")
    expect(radios).to_have_count(3)
    expect(page.get_by_role("radio", name="Member (current)")).to_be_checked()
    expect(page.get_by_role("radio", name="Billing manager")).not_to_be_checked()
    expect(
        page.get_by_text("Sees the billing details, nothing of the code.")
    ).to_be_visible()
    change = page.get_by_role("button", name="Change role")
    expect(change).to_be_disabled()
    page.get_by_role("radio", name="Owner").check()
    expect(change).to_be_enabled()
    expect(page.get_by_role("link", name=f"Remove {demo.RINGO}")).to_be_visible()
    screenshot(page, "member-ringo-as-john")


def test_member_page_change_flashes_what_was_gained_and_lost(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    _change_role(page, live_server, demo.RINGO, "BILLING")
    expect(_flash(page)).to_have_text(
        f"{demo.RINGO} is now a Billing manager. They can now see the billing details,"
        " open the settings and change the billing address; they can no longer see"
        " the repositories, create repositories or see who is here."
    )
    expect(
        page.get_by_text("Role in The Beatles: Billing manager", exact=True)
    ).to_be_visible()
    assert _role_in(live_server, demo.RINGO) == "BILLING"


def test_member_page_change_flashes_only_what_was_gained_on_a_promotion(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    _change_role(page, live_server, demo.GEORGE, "OWNER")
    # BILLING -> OWNER takes nothing away: the flash has no "no longer" part.
    expect(_flash(page)).to_have_text(
        f"{demo.GEORGE} is now an Owner. They can now see the repositories, create"
        " repositories, see who is here, add people, change people's roles, remove"
        " people, see the audit log, rename the organization and delete the"
        " organization."
    )
    assert _role_in(live_server, demo.GEORGE) == "OWNER"


def test_member_page_change_form_works_with_the_keyboard_alone(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    _open_member(page, live_server, demo.PAUL)
    current = page.get_by_role("radio", name="Member (current)")
    # Tab from the top of the page until the chosen radio button has the focus,
    # as a keyboard user would; a page that never reaches it fails here.
    page.locator("body").focus()
    for _ in range(40):
        if current.evaluate("element => element === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(current).to_be_focused()
    page.keyboard.press("ArrowDown")  # Member -> Billing manager
    expect(page.get_by_role("radio", name="Billing manager")).to_be_checked()
    # On past the optional expiry field (time-limited roles, issue 19: a
    # date-and-time input whose parts are stops of their own) to the button.
    button = page.get_by_role("button", name="Change role")
    for _ in range(12):
        page.keyboard.press("Tab")
        if button.evaluate("element => element === document.activeElement"):
            break
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(_flash(page)).to_have_text(
        re.compile(rf"^{re.escape(demo.PAUL)} is now a Billing manager\.")
    )
    assert _role_in(live_server, demo.PAUL) == "BILLING"


# --- an owner demoting themselves -------------------------------------------------


def test_member_page_self_demotion_asks_for_confirmation_first(
    page: Page, live_server: LiveServer
) -> None:
    _make_beatles_owner(live_server, demo.PAUL)  # so john is not the last owner
    sign_in(page, live_server, demo.JOHN)
    _change_role(page, live_server, demo.JOHN, "MEMBER")
    expect(
        page.get_by_role("heading", name="Change your own role to Member?")
    ).to_be_visible()
    lost = page.get_by_role("list", name="Permissions lost")
    expect(lost.get_by_role("listitem")).to_have_text(
        [
            "See the billing details",
            "Open the settings",
            "Change the billing address",
            "Add people",
            "Change people's roles",
            "Remove people",
            "See the audit log",
            "Rename the organization",
            "Delete the organization",
        ]
    )
    expect(page.get_by_role("note")).to_contain_text(
        "You will lose access to role management"
    )
    screenshot(page, "member-self-demotion-confirm")
    # Asking changed nothing yet.
    assert _role_in(live_server, demo.JOHN) == "OWNER"


def test_member_page_self_demotion_confirmed_makes_the_owner_a_member(
    page: Page, live_server: LiveServer
) -> None:
    _make_beatles_owner(live_server, demo.PAUL)
    sign_in(page, live_server, demo.JOHN)
    _change_role(page, live_server, demo.JOHN, "MEMBER")
    page.get_by_role("button", name="Yes, make me a Member").click()
    expect(_flash(page)).to_have_text(
        "You are now a Member. You can no longer see the billing details, open the"
        " settings, change the billing address, add people, change people's roles,"
        " remove people, see the audit log, rename the organization or delete the"
        " organization."
    )
    expect(page.get_by_text("You are a Member in The Beatles.")).to_be_visible()
    # As a MEMBER, john no longer gets the controls.
    expect(page.get_by_role("button", name="Change role")).to_have_count(0)
    assert _role_in(live_server, demo.JOHN) == "MEMBER"


def test_member_page_self_demotion_cancelled_changes_nothing(
    page: Page, live_server: LiveServer
) -> None:
    _make_beatles_owner(live_server, demo.PAUL)
    sign_in(page, live_server, demo.JOHN)
    _change_role(page, live_server, demo.JOHN, "MEMBER")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_text("You are an Owner in The Beatles.")).to_be_visible()
    assert _role_in(live_server, demo.JOHN) == "OWNER"


# --- removing someone, leaving ----------------------------------------------------


def test_member_remove_confirmation_lists_what_they_lose(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    _open_member(page, live_server, demo.RINGO)
    page.get_by_role("link", name=f"Remove {demo.RINGO}").click()
    expect(
        page.get_by_role("heading", name=f"Remove {demo.RINGO} from The Beatles?")
    ).to_be_visible()
    lost = page.get_by_role("list", name="Permissions lost")
    expect(lost.get_by_role("listitem")).to_have_text(
        [
            "See the organization",
            "See the repositories",
            "Create repositories",
            "See who is here",
        ]
    )
    screenshot(page, "member-remove-confirm")
    assert _role_in(live_server, demo.RINGO) == "MEMBER"  # not yet


def test_member_remove_confirmed_takes_the_role_away(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    _open_member(page, live_server, demo.RINGO)
    page.get_by_role("link", name=f"Remove {demo.RINGO}").click()
    page.get_by_role("button", name=f"Remove {demo.RINGO}").click()
    expect(_flash(page)).to_have_text(
        f"{demo.RINGO} no longer has a role in The Beatles. They can no longer see the"
        " organization, see the repositories, create repositories or see who is here."
    )
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    members = page.get_by_role("table", name="People")
    expect(members.get_by_role("link", name=demo.RINGO)).to_have_count(0)
    assert _role_in(live_server, demo.RINGO) is None


def test_member_leave_confirmation_lists_what_they_lose(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.RINGO)
    page.get_by_role("link", name="The Beatles").click()
    page.get_by_role("link", name="Leave The Beatles").click()
    expect(page.get_by_role("heading", name="Leave The Beatles?")).to_be_visible()
    lost = page.get_by_role("list", name="Permissions lost")
    expect(lost.get_by_role("listitem")).to_have_text(
        [
            "See the organization",
            "See the repositories",
            "Create repositories",
            "See who is here",
        ]
    )
    screenshot(page, "member-leave-confirm")
    assert _role_in(live_server, demo.RINGO) == "MEMBER"  # not yet


def test_member_leave_confirmed_goes_back_to_the_organizations(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.RINGO)
    page.get_by_role("link", name="The Beatles").click()
    page.get_by_role("link", name="Leave The Beatles").click()
    page.get_by_role("button", name="Leave The Beatles").click()
    expect(_flash(page)).to_have_text("You left The Beatles.")
    expect(page.get_by_role("heading", name="Your organizations")).to_be_visible()
    expect(page.get_by_role("link", name="The Beatles")).to_have_count(0)
    assert _role_in(live_server, demo.RINGO) is None


# --- the last owner ---------------------------------------------------------------


def test_member_last_owner_leave_control_is_disabled_with_the_reason(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    _open_member(page, live_server, demo.JOHN)
    leave = page.get_by_role("button", name="Leave organization")
    expect(leave).to_be_disabled()
    # The reason is on the page and is the button's description for a screen
    # reader.
    expect(page.get_by_text(LAST_OWNER_LEAVE)).to_be_visible()
    expect(leave).to_have_accessible_description(LAST_OWNER_LEAVE)
    screenshot(page, "member-last-owner")
    assert _role_in(live_server, demo.JOHN) == "OWNER"


def test_member_last_owner_change_control_is_disabled_with_the_reason(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    _open_member(page, live_server, demo.JOHN)
    expect(page.get_by_role("radio", name="Owner (current)")).to_be_disabled()
    change = page.get_by_role("button", name="Change role")
    expect(change).to_be_disabled()
    expect(change).to_have_accessible_description(LAST_OWNER_CHANGE)
    assert _role_in(live_server, demo.JOHN) == "OWNER"


# --- the audit log ------------------------------------------------------------------


def test_audit_page_lists_the_changes_made_newest_first(
    page: Page, live_server: LiveServer
) -> None:
    with Session(_engine(live_server)) as session:
        newcomer = make_user(session).email  # a unique one
        session.commit()
    sign_in(page, live_server, demo.JOHN)
    _change_role(page, live_server, demo.RINGO, "BILLING")
    _open_member(page, live_server, demo.PAUL)
    page.get_by_role("link", name=f"Remove {demo.PAUL}").click()
    page.get_by_role("button", name=f"Remove {demo.PAUL}").click()
    _add_people(page)
    page.get_by_label("Email address", exact=True).fill(newcomer)
    page.get_by_role("button", name="Send invitation").click()
    expect(_flash(page)).to_have_text(
        re.compile(rf"^Invitation sent to {re.escape(newcomer)}\.")
    )
    tabs = page.get_by_role("navigation", name="The Beatles sections")
    tabs.get_by_role("link", name="Audit log").click()
    expect(page.get_by_text("3 changes", exact=True)).to_be_visible()
    rows = _rows(page, "Role changes")
    expect(rows.locator("td:nth-child(3)")).to_have_text(
        [
            f"invited {newcomer} as Member",
            f"removed {demo.PAUL} (was Member)",
            f"changed {demo.RINGO} from Member to Billing manager",
        ]
    )
    expect(rows.locator("td:nth-child(2)")).to_have_text([demo.JOHN] * 3)
    screenshot(page, "audit-changes")
    assert _audit(live_server) == [
        ("invite", newcomer),
        ("remove", demo.PAUL),
        ("change", demo.RINGO),
    ]


# --- the roles page: search, filter, counts, paging ---------------------------------


def _searchable_org(server: LiveServer) -> tuple[int, str, str]:
    """An organization of its own to search: an owner, three "drummer"s (one a
    BILLING contact) and two "singer"s; its id, the owner's email and the tag
    every email of it carries."""
    tag = f"s{unique_number()}"
    with Session(_engine(server)) as session:
        (org_id,) = bulk_organizations(session, 1, name="Search Org {n}")
        owner = make_user(session, f"owner-{tag}@search.example")
        email = owner.email  # read now: the commit expires the object
        roles = [(owner.id, org_id, "OWNER")]
        for name, role in [
            ("drummer-a", "MEMBER"),
            ("drummer-b", "MEMBER"),
            ("drummer-c", "BILLING"),
            ("singer-a", "MEMBER"),
            ("singer-b", "BILLING"),
        ]:
            user = make_user(session, f"{name}-{tag}@search.example")
            roles.append((user.id, org_id, role))
        bulk_roles(session, roles)
        session.commit()
    return org_id, email, tag


def test_roles_search_finds_members_by_email_fragment(
    page: Page, live_server: LiveServer
) -> None:
    org_id, owner, tag = _searchable_org(live_server)
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/orgs/{org_id}/roles")
    page.get_by_label("Email contains").fill("drummer")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("3 members match", exact=True)).to_be_visible()
    expect(_rows(page, "People").locator("td:first-child a")).to_have_text(
        [f"drummer-{x}-{tag}@search.example" for x in "abc"]
    )
    expect(page.get_by_label("Email contains")).to_have_value("drummer")


def test_roles_filter_by_role_lists_only_that_role(
    page: Page, live_server: LiveServer
) -> None:
    org_id, owner, tag = _searchable_org(live_server)
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/orgs/{org_id}/roles")
    page.get_by_label("Has role").select_option("BILLING")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("2 members match", exact=True)).to_be_visible()
    expect(_rows(page, "People").locator("td:first-child a")).to_have_text(
        [f"drummer-c-{tag}@search.example", f"singer-b-{tag}@search.example"]
    )
    roles = _rows(page, "People").get_by_role("combobox")
    expect(roles).to_have_count(2)
    for i in range(2):
        expect(roles.nth(i)).to_have_value("BILLING")


def test_roles_search_and_filter_combine(page: Page, live_server: LiveServer) -> None:
    org_id, owner, tag = _searchable_org(live_server)
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/orgs/{org_id}/roles")
    page.get_by_label("Email contains").fill("drummer")
    page.get_by_label("Has role").select_option("MEMBER")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("2 members match", exact=True)).to_be_visible()
    expect(_rows(page, "People").locator("td:first-child a")).to_have_text(
        [f"drummer-a-{tag}@search.example", f"drummer-b-{tag}@search.example"]
    )
    filters = page.get_by_role("navigation", name="People by role")
    expect(filters.locator("[aria-current]")).to_have_text("Member 3")
    screenshot(page, "roles-search-filter")


def test_roles_counts_show_each_role_and_filter_on_click(
    page: Page, live_server: LiveServer
) -> None:
    org_id, owner, _tag = _searchable_org(live_server)
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/orgs/{org_id}/roles")
    filters = page.get_by_role("navigation", name="People by role")
    expect(filters.get_by_role("link")).to_have_text(
        ["All 6", "Owner 1", "Member 3", "Billing manager 2"]
    )
    filters.get_by_role("link", name="Owner 1").click()
    expect(page).to_have_url(re.compile(r"/roles\?role=OWNER$"))
    expect(_rows(page, "People").locator("td:first-child a")).to_have_text([owner])


def test_roles_search_without_a_match_says_so(
    page: Page, live_server: LiveServer
) -> None:
    org_id, owner, _tag = _searchable_org(live_server)
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/orgs/{org_id}/roles")
    page.get_by_label("Email contains").fill("bassist")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("No member's email contains 'bassist'.")).to_be_visible()
    expect(page.get_by_role("table", name="People")).to_have_count(0)


def _paged_org(server: LiveServer) -> tuple[int, str]:
    """An organization of 120 members: an owner and 119 MEMBERs whose emails sort
    before the owner's; its id and the owner's email."""
    tag = f"p{unique_number()}"
    with Session(_engine(server)) as session:
        (org_id,) = bulk_organizations(session, 1, name="Paged Members {n}")
        owner = make_user(session, f"owner-{tag}@paged.example")
        email = owner.email  # read now: the commit expires the object
        members = bulk_users(session, 119, email=f"member-{{i:03}}-{tag}@paged.example")
        roles = [(owner.id, org_id, "OWNER")]
        roles += [(user_id, org_id, "MEMBER") for user_id in members]
        bulk_roles(session, roles)
        session.commit()
    return org_id, email


def test_roles_pager_walks_a_120_member_organization(
    page: Page, live_server: LiveServer
) -> None:
    org_id, owner = _paged_org(live_server)
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/orgs/{org_id}/roles")
    pager = page.get_by_role("navigation", name="Pages of members")
    rows = _rows(page, "People")
    expect(page.get_by_text("Showing 1–50 of 120 members")).to_be_visible()
    expect(pager.get_by_text("Page 1 of 3")).to_be_visible()
    expect(pager.get_by_role("link", name="← Previous")).to_have_count(0)
    expect(rows).to_have_count(50)
    pager.get_by_role("link", name="Next →").click()
    expect(page.get_by_text("Showing 51–100 of 120 members")).to_be_visible()
    expect(pager.get_by_text("Page 2 of 3")).to_be_visible()
    expect(rows.first).to_contain_text("member-050-")
    pager.get_by_role("link", name="Next →").click()
    expect(pager.get_by_text("Page 3 of 3")).to_be_visible()
    expect(rows).to_have_count(20)
    expect(rows.last).to_contain_text(owner)
    expect(pager.get_by_role("link", name="Next →")).to_have_count(0)
    pager.get_by_role("link", name="← Previous").click()
    expect(pager.get_by_text("Page 2 of 3")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/roles\?page=2$"))


def test_roles_pager_keeps_the_search(page: Page, live_server: LiveServer) -> None:
    org_id, owner = _paged_org(live_server)
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/orgs/{org_id}/roles")
    page.get_by_label("Email contains").fill("member-")
    page.get_by_label("Has role").select_option("MEMBER")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("Showing 1–50 of 119 matching members")).to_be_visible()
    pager = page.get_by_role("navigation", name="Pages of members")
    pager.get_by_role("link", name="Next →").click()
    pager.get_by_role("link", name="Next →").click()
    expect(page.get_by_text("Showing 101–119 of 119 matching members")).to_be_visible()
    expect(page.get_by_label("Email contains")).to_have_value("member-")
    expect(page.get_by_label("Has role")).to_have_value("MEMBER")
    expect(_rows(page, "People")).to_have_count(19)
    # The paged emails are all the search's: the owner is not among them.
    expect(_rows(page, "People").filter(has_text=owner)).to_have_count(0)


# --- acting from the rows of the people page ----------------------------------------


def test_roles_row_changes_a_role_and_stays_on_the_list(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{BEATLES}/roles?q=r")
    row = _row(page, demo.RINGO)
    select = row.get_by_label(f"Role of {demo.RINGO}")
    expect(select).to_have_value("MEMBER")
    change = row.get_by_role("button", name=f"Change the role of {demo.RINGO}")
    # Unchanged, there is nothing to send (portal.js); choosing enables it.
    expect(change).to_be_disabled()
    select.select_option(label="Billing manager")
    expect(change).to_be_enabled()
    change.click()
    expect(_flash(page)).to_have_text(re.compile(rf"^{re.escape(demo.RINGO)} is now"))
    # Back on the list as it was searched, the row showing the new role.
    expect(page).to_have_url(re.compile(r"/orgs/1/roles\?q=r$"))
    expect(_row(page, demo.RINGO).get_by_label(f"Role of {demo.RINGO}")).to_have_value(
        "BILLING"
    )
    screenshot(page, "roles-row-changed")
    assert _role_in(live_server, demo.RINGO) == "BILLING"


def test_roles_row_removes_someone_after_the_confirmation(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{BEATLES}/roles")
    _row(page, demo.RINGO).get_by_role("link", name=f"Remove {demo.RINGO}").click()
    expect(
        page.get_by_role("heading", name=f"Remove {demo.RINGO} from The Beatles?")
    ).to_be_visible()
    assert _role_in(live_server, demo.RINGO) == "MEMBER"  # not yet
    page.get_by_role("button", name=f"Remove {demo.RINGO}").click()
    expect(_flash(page)).to_have_text(
        re.compile(rf"^{re.escape(demo.RINGO)} no longer has a role")
    )
    expect(_row(page, demo.RINGO)).to_have_count(0)
    assert _role_in(live_server, demo.RINGO) is None


def test_roles_row_own_demotion_asks_for_confirmation_first(
    page: Page, live_server: LiveServer
) -> None:
    _make_beatles_owner(live_server, demo.PAUL)  # so john is not the last owner
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{BEATLES}/roles")
    row = _row(page, demo.JOHN)
    row.get_by_label(f"Role of {demo.JOHN}").select_option(label="Member")
    row.get_by_role("button", name=f"Change the role of {demo.JOHN}").click()
    expect(
        page.get_by_role("heading", name="Change your own role to Member?")
    ).to_be_visible()
    screenshot(page, "roles-row-self-demotion-confirm")
    assert _role_in(live_server, demo.JOHN) == "OWNER"  # asking changed nothing
    page.get_by_role("button", name="Yes, make me a Member").click()
    expect(_flash(page)).to_have_text(re.compile(r"^You are now a Member\."))
    assert _role_in(live_server, demo.JOHN) == "MEMBER"


def test_roles_row_of_the_last_owner_says_why_it_has_no_controls(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{BEATLES}/roles")
    row = _row(page, demo.JOHN)
    expect(row.get_by_role("combobox")).to_have_count(0)
    expect(row.get_by_role("link", name=re.compile("^Leave"))).to_have_count(0)
    note = (
        "You are the last Owner of The Beatles: make someone else an Owner before"
        " you change your role or leave."
    )
    expect(row.get_by_text(note)).to_be_visible()
    expect(row.get_by_text("Owner", exact=True)).to_have_accessible_description(note)


def test_roles_rows_of_a_member_are_badges_and_their_own_leave(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.PAUL)
    page.goto(f"{live_server.url}/orgs/{BEATLES}/roles")
    table = page.get_by_role("table", name="People")
    expect(table.get_by_role("combobox")).to_have_count(0)
    expect(table.get_by_role("link", name=re.compile("^(Remove|Leave)"))).to_have_count(
        1
    )
    _row(page, demo.PAUL).get_by_role("link", name="Leave The Beatles").click()
    expect(page.get_by_role("heading", name="Leave The Beatles?")).to_be_visible()


@pytest.mark.parametrize("width", [1280, 390])
def test_roles_row_controls_fit_and_work_on_a_phone(
    page: Page, live_server: LiveServer, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 844})
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{BEATLES}/roles")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    row = _row(page, demo.GEORGE)
    select = row.get_by_label(f"Role of {demo.GEORGE}")
    remove = row.get_by_role("link", name=f"Remove {demo.GEORGE}")
    for control in (select, remove):
        box = control.bounding_box()
        assert box is not None and box["height"] >= (32 if width < 600 else 28)
        assert box["x"] + box["width"] <= width
    select.select_option(label="Member")
    row.get_by_role("button", name=f"Change the role of {demo.GEORGE}").click()
    expect(_flash(page)).to_have_text(re.compile(rf"^{re.escape(demo.GEORGE)} is now"))
    assert _role_in(live_server, demo.GEORGE) == "MEMBER"
    screenshot(page, f"roles-rows-{width}")


def test_roles_add_people_opens_and_a_refusal_takes_the_focus(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{BEATLES}/roles")
    # At the top, above the list, closed until asked for.
    expect(page.get_by_label("Email address", exact=True)).to_be_hidden()
    _add_people(page)
    page.get_by_label("Email address", exact=True).fill("nobody@")
    page.get_by_role("button", name="Send invitation").click()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("That is not an email address")
    # Open after the refusal; the summary's link leads to the field.
    summary.get_by_role("link").click()
    expect(page.get_by_label("Email address", exact=True)).to_be_focused()
    expect(page.get_by_label("Email address", exact=True)).to_have_value("nobody@")
    screenshot(page, "roles-add-people-refused")
