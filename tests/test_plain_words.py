"""No page a person sees shows a permission code (READ_BILLING, LIST_ROLES, ...)
outside its closed "Technical details" disclosure (issue 17): the crawler of
tests/test_crawl.py walks every page each demo user can reach, and the pages no
link leads to (a confirmation, a refusal, a flash after a change) are asked for
here. What counts is the text a person reads: attribute values (an option's
value, a hidden field) are the form's business and may carry codes.

The words come from portal/policy_words.toml through the app (tests/test_words.py
checks the file; tests/test_explain.py the roles table): here, a changed word
changes the flash and the member pages.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.authz import words
from portal.authz.words import Term, Words
from portal.domain import demo
from portal.domain import roles as domain_roles
from tests.conftest import AuthActions, csrf_token, organization, user_by_email
from tests.test_crawl import START, get_form_urls, read_page, same_site
from tests.test_json import guard_of
from tests.test_policy import ORG_ACTIONS

# A permission code as a word of its own (READ, not "Read from the policy").
CODE_RE = re.compile(rf"\b({'|'.join(sorted(ORG_ACTIONS, key=len, reverse=True))})\b")
ROLE_CODE_RE = re.compile(r"\b(OWNER|MEMBER|BILLING)\b")


class VisibleText(HTMLParser):
    """The text of a page a person reads: no attribute, no script or style, and
    nothing inside a <details class="technical">."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.technical: list[str] = []  # the codes' disclosures' text
        self._skip = 0  # depth inside script/style
        self._details: list[bool] = []  # open <details>: technical or not

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        elif tag == "details":
            classes = (dict(attrs).get("class") or "").split()
            self._details.append("technical" in classes)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._skip -= 1
        elif tag == "details" and self._details:
            self._details.pop()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        (self.technical if any(self._details) else self.text).append(data)


def visible(html: str) -> VisibleText:
    """html's visible text and its technical details, apart."""
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return parser


def codes_shown(html: str, pattern: re.Pattern[str] = CODE_RE) -> set[str]:
    """The codes of pattern a person reads on html, outside technical details."""
    return set(pattern.findall(" ".join(visible(html).text)))


def pages_of(app: Flask, client: FlaskClient) -> dict[str, str]:
    """Every HTML page client reaches from START by links and GET forms: URL ->
    HTML (as tests/test_crawl.py crawls, keeping the pages)."""
    pages: dict[str, str] = {}
    queue, seen = deque([START]), {START}
    while queue:
        url = queue.popleft()
        response = client.get(url, follow_redirects=True)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        pages[url] = html
        page = read_page(url, html)
        targets = [same_site(url, href) for href in page.links]
        for form in page.forms:
            if form.method == "GET":
                targets += get_form_urls(form)
        for target in targets:
            # The roles list's pages and searches are one template: a few do.
            if target is not None and target not in seen and len(seen) < 150:
                seen.add(target)
                queue.append(target)
    return pages


def _login(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    assert AuthActions(client).login(email).status_code == 302
    return client


def _post(client: FlaskClient, url: str, **data: str) -> str:
    """POST data to url with the session's CSRF token; the page it ends on."""
    data = {"csrf_token": csrf_token(client, "/orgs"), **data}
    return client.post(url, data=data, follow_redirects=True).get_data(as_text=True)


@pytest.mark.parametrize("email", [demo.JOHN, demo.PAUL, demo.GEORGE, demo.RINGO])
def test_plain_words_no_permission_code_on_any_page(app: Flask, email: str) -> None:
    pages = pages_of(app, _login(app, email))
    assert len(pages) > 3  # the crawl found the organization's pages
    shown = {url: codes_shown(html) for url, html in pages.items()}
    assert {url: codes for url, codes in shown.items() if codes} == {}
    role_codes = {
        url: found
        for url, html in pages.items()
        if (found := codes_shown(html, ROLE_CODE_RE))
    }
    assert role_codes == {}


def test_plain_words_the_codes_are_behind_technical_details(app: Flask) -> None:
    # why: the check above would pass on a page that lost its codes altogether;
    # the member page keeps them, closed, for whoever wants them
    john = _login(app, demo.JOHN)
    page = john.get("/orgs/1/roles/3").get_data(as_text=True)
    technical = " ".join(visible(page).technical)
    assert {"READ", "LIST_REPOS", "CREATE_REPO", "LIST_ROLES", "MEMBER"} <= set(
        re.findall(r"\b[A-Z_]+\b", technical)
    )
    assert '<details class="technical">' in page and "<details open" not in page


def test_plain_words_no_code_on_confirmations_refusals_and_flashes(
    app: Flask, db: Session
) -> None:
    john = _login(app, demo.JOHN)
    paul = user_by_email(db, demo.PAUL).id
    mine = f"/orgs/1/roles/{user_by_email(db, demo.JOHN).id}"
    said: list[str] = []
    # A refusal: the last owner demoting himself.
    said.append(_post(john, mine, name="MEMBER", **guard_of(db, demo.JOHN)))
    # A flash: Paul made an owner on his page (then John is no longer the last
    # one).
    paul_page = f"/orgs/1/roles/{paul}"
    said.append(_post(john, paul_page, name="OWNER", **guard_of(db, demo.PAUL)))
    # A confirmation: John demoting himself, and the removal page.
    said.append(_post(john, mine, name="BILLING", **guard_of(db, demo.JOHN)))
    said.append(john.get(f"/orgs/1/roles/{paul}/delete").get_data(as_text=True))
    # A refusal on the assign form: already that role.
    said.append(_post(john, "/orgs/1/roles", user_email=demo.PAUL, name="OWNER"))
    # Flashes of a removal and of a confirmed self-demotion.
    said.append(_post(john, f"/orgs/1/roles/{paul}/delete", **guard_of(db, demo.PAUL)))
    # The invitation's flash (issue 19: the form invites), then Paul an owner
    # again, as the command line would make him, for John's confirmed change.
    said.append(_post(john, "/orgs/1/roles", user_email=demo.PAUL, name="OWNER"))
    engine = app.extensions["portal.engine"]
    with app.app_context(), Session(engine) as fresh, fresh.begin():
        beatles, paul_user = organization(fresh, 1), user_by_email(fresh, demo.PAUL)
        domain_roles.add_user_role(fresh, beatles, paul_user, "OWNER", actor=None)
    said.append(
        _post(
            john,
            mine,
            name="BILLING",
            confirm="yes",
            **guard_of(db, demo.JOHN),
        )
    )
    expected = [
        "is the last Owner",
        "paul@beatles.com is now an Owner.",
        "Change your own role to Billing manager?",
        "Remove paul@beatles.com from The Beatles?",
        "paul@beatles.com is already an Owner here.",
        "paul@beatles.com no longer has a role in The Beatles.",
        "Invitation sent to paul@beatles.com.",
        "You are now a Billing manager.",
    ]
    for html, sentence in zip(said, expected, strict=True):
        assert sentence in " ".join(visible(html).text), sentence
        assert codes_shown(html) == set(), sentence
        # The message itself names no role by its code either.
        messages = re.findall(
            r'<p class="(?:flash|form-error|field-error)[^"]*"[^>]*>([^<]*)<', html
        )
        messages += re.findall(r'<h2 id="confirm-heading">([^<]*)<', html)
        # The error summary's items (a refusal; a field's message is a link).
        for summary in re.findall(r'<div class="error-summary".*?</div>', html, re.S):
            messages += re.findall(r"<li>(?:<a [^>]*>)?([^<]*)<", summary)
        assert messages, sentence
        assert ROLE_CODE_RE.findall(" ".join(messages)) == [], messages


def _renamed(said: Words, role: str, name: str) -> Words:
    """said with one organization role renamed."""
    roles = dict(said.roles["Organization"])
    roles[role] = replace(roles[role], name=name)
    return replace(said, roles={**said.roles, "Organization": roles})


def _permission_renamed(said: Words, permission: str, name: str) -> Words:
    """said with one organization permission renamed."""
    terms: dict[str, Term] = dict(said.permissions["Organization"])
    terms[permission] = replace(terms[permission], name=name)
    return replace(said, permissions={**said.permissions, "Organization": terms})


def test_plain_words_flash_and_member_page_follow_the_words(
    app: Flask, db: Session
) -> None:
    # why: the sentences are put together from the app's words, not written out:
    # rename a role and a permission and the flash and the pages say the new ones
    said = _renamed(words(app), "BILLING", "Treasurer")
    said = _permission_renamed(said, "READ_BILLING", "Read the invoices")
    app.extensions["portal.words"] = said
    john = _login(app, demo.JOHN)
    ringo_page = f"/orgs/1/roles/{user_by_email(db, demo.RINGO).id}"
    shown = guard_of(db, demo.RINGO)
    page = _post(john, ringo_page, name="BILLING", back="/orgs/1/roles", **shown)
    assert (
        "ringo@beatles.com is now a Treasurer. They can now read the invoices, open"
        in " ".join(visible(page).text)
    )
    assert '<option value="BILLING">Treasurer</option>' in page
    ringo = user_by_email(db, demo.RINGO).id
    member = " ".join(
        visible(john.get(f"/orgs/1/roles/{ringo}").get_data(as_text=True)).text
    )
    assert "What they can do here as a Treasurer" in member
    assert "Read the invoices Given to every Treasurer." in " ".join(member.split())
