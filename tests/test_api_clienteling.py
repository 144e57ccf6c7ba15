# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""The clienteling page (issue 20): served with its own files and no URL off this host, and clicked
through in headless Chromium on the test graph over real HTTP, every request off the machine refused:
with a reader key (personal fields hidden), an admin key (the name shown), for a customer who withdrew
personalisation (non-personal recommendations said so), and with the keyboard alone."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from test_api_support import (  # noqa: F401
    ADMIN,
    CHROMIUM,
    READER,
    WRITER,
    data,
    make_app,
    offline_page,
    seed,
    seeded,
    served,
)

from api.clienteling import ASSETS_DIR, ASSETS_PATH, PAGE_PATH
from graph_model.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"')
CONTENT_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",)}
TABLET = {"width": 1024, "height": 768}
FIRST_PAGE, TIMELINE_SIZE = 10, 19  # the page asks 10 entries at a time; C1 has 19 (test_api_support)
browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                  reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


def test_the_page_and_its_files_are_served_with_their_types_and_no_outside_url(seeded: Settings) -> None:
    for config in ({}, {"development": False}):  # served in production too: it holds no data
        with TestClient(make_app(seeded, **config)) as client:
            page = client.get(PAGE_PATH)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert "default-src 'none'" in page.headers["content-security-policy"]
            references = REFERENCES.findall(page.text)
            assert sorted(Path(ref).suffix for ref in references) == [".css", ".js"]
            for ref in references:
                assert ref.startswith(f"{ASSETS_PATH}/"), ref
                answer = client.get(ref)
                assert answer.status_code == 200, ref
                assert answer.headers["content-type"].split(";")[0] in CONTENT_TYPES[Path(ref).suffix], ref
                assert answer.headers["cache-control"] == "no-cache"
            for text in (page.text, *(client.get(ref).text for ref in references)):
                assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]", text, re.I)  # nothing off this host
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api"]
    files = [path.relative_to(ROOT / "api").as_posix() for path in ASSETS_DIR.iterdir()]
    assert all(any(fnmatch(name, glob) for glob in package_data) for name in files)


# --- in a browser --------------------------------------------------------------------------------------

@contextmanager
def browser_page(port: int) -> Iterator[Any]:
    """A tablet-sized page of headless Chromium on the served app: requests off loopback are refused, and
    neither a refused request nor a script error may happen."""
    with offline_page(TABLET) as page:
        page.goto(f"http://127.0.0.1:{port}{PAGE_PATH}", wait_until="networkidle")
        yield page


def use_key(page: Any, key: str) -> None:
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Use this key").click()


def find(page: Any, value: str, by: str = "Customer id") -> None:
    page.get_by_label("Look up by", exact=True).select_option(label=by)
    page.get_by_label("Value", exact=True).fill(value)
    page.get_by_label("Value", exact=True).press("Enter")


def profile_shown(page: Any, customer_id: str) -> Any:
    page.get_by_role("heading", name=f"Customer {customer_id}").wait_for(timeout=20_000)
    return page.locator("#profile")


def no_horizontal_scrolling(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def entries(page: Any) -> int:
    return page.locator("#timeline > li.entry").count()


def dd(page: Any, term: str) -> str:
    """The text of a definition (``<dt>term</dt><dd>…</dd>``) of the profile."""
    return page.locator(f"dt:text-is('{term}') + dd").inner_text()


@browser_only
def test_a_reader_sees_the_profile_without_personal_fields(seeded: Settings, artifacts: Path) -> None:
    with served(make_app(seeded)) as port, browser_page(port) as page:
        use_key(page, "not-a-key-at-all")
        find(page, "C1")
        assert page.get_by_role("alert").inner_text() == "Check your key: the API did not accept it. (UNAUTHENTICATED)"
        use_key(page, READER)
        find(page, "C1")
        profile = profile_shown(page, "C1")
        assert page.get_by_role("alert").is_hidden()
        assert dd(page, "Name") == "hidden for your role"
        assert dd(page, "City") == "London" and dd(page, "Loyalty tier") == "gold"
        assert dd(page, "Churn risk").startswith("25 %") and dd(page, "Chance they are still a customer (pAlive)") == "75 %"
        assert dd(page, "Expected purchases, next 90 days") == "1.5" and dd(page, "Home store") == "Oxford Street, London"
        assert profile.locator("#segments").get_by_text("Weekend campers").is_visible()
        assert page.locator("#contactable li").all_inner_texts()[0].replace("\n", " ") == "E-mail: yes"
        assert "hidden for your role" in page.locator("#identifiers").inner_text()
        reply = page.locator("#timeline li.response").filter(has_text="Replied")
        assert reply.inner_text().endswith("hidden for your role")
        first = page.locator("#recommendations li").first
        assert first.locator(".why").inner_text() == "Often bought with Product 11, which you bought"
        assert first.locator(".sources").inner_text() == "Based on: their own purchases and browsing"
        assert page.locator("#similar").inner_text() == "1 similar shopper."
        assert entries(page) == FIRST_PAGE and no_horizontal_scrolling(page)
        page.screenshot(path=str(artifacts / "reader.png"), full_page=True)
        page.get_by_role("button", name="More").click()
        page.locator("#timeline > li.entry").nth(TIMELINE_SIZE - 1).wait_for(timeout=20_000)
        assert entries(page) == TIMELINE_SIZE and page.get_by_role("button", name="More").is_hidden()
        assert page.get_by_text("That is the whole timeline.").is_visible()
        assert page.locator("#timeline li.order").filter(has_text="Order O1:").is_visible()
        page.screenshot(path=str(artifacts / "reader-timeline.png"), full_page=True)


@browser_only
def test_an_admin_finds_by_identifier_and_sees_the_name(seeded: Settings, artifacts: Path) -> None:
    with served(make_app(seeded)) as port, browser_page(port) as page:
        use_key(page, ADMIN)
        find(page, "NOBODY")
        assert page.get_by_role("alert").inner_text() == "No customer with that id. (NOT_FOUND)"
        find(page, "no-such-hash", by="E-mail hash")
        assert page.get_by_role("alert").inner_text() == "No customer with that identifier. (NOT_FOUND)"
        find(page, "hash-ada", by="E-mail hash")
        profile_shown(page, "C1")
        assert dd(page, "Name") == "Ada Lovelace"
        assert "ck-ada" in page.locator("#identifiers").inner_text()
        assert "Call me on 07700 900123" in page.locator("#timeline li.response").filter(has_text="Replied").inner_text()
        assert "hidden for your role" not in page.locator("#profile").inner_text()
        assert no_horizontal_scrolling(page)
        page.screenshot(path=str(artifacts / "clienteling.png"), full_page=True)
        page.get_by_role("button", name="More").click()
        page.locator("#timeline > li.entry").nth(TIMELINE_SIZE - 1).wait_for(timeout=20_000)
        assert entries(page) == TIMELINE_SIZE


@browser_only
def test_an_admin_finds_by_name_and_a_reader_is_told_why_not(seeded: Settings) -> None:
    with served(make_app(seeded)) as port, browser_page(port) as page:
        use_key(page, READER)
        find(page, "ada", by="Name (admin key)")
        assert page.get_by_role("alert").inner_text() == (
            "Searching by name needs an admin key (names are personal data). (FORBIDDEN)")
        use_key(page, ADMIN)
        find(page, "ada lov", by="Name (admin key)")  # one match: its profile at once
        profile_shown(page, "C1")
        find(page, "a", by="Name (admin key)")  # Ada and Alan: a list to choose from
        matches = page.get_by_role("list", name="Customers with that name")
        matches.get_by_role("button", name="Alan Turing").click()
        profile_shown(page, "C3")
        find(page, "nobody", by="Name (admin key)")
        assert "No customer with that name." in matches.inner_text()


@browser_only
def test_the_keyboard_alone_finds_a_customer_and_pages_the_timeline(seeded: Settings, artifacts: Path) -> None:
    from playwright.sync_api import expect

    with served(make_app(seeded)) as port, browser_page(port) as page:
        def focused() -> str:
            return str(page.evaluate("document.activeElement.id"))

        page.keyboard.press("Tab")
        assert focused() == "api-key"  # the first stop
        page.keyboard.type(READER)
        page.keyboard.press("Enter")
        assert focused() == "lookup-value"  # the key is kept: focus goes to the search
        page.keyboard.type("C1")
        page.keyboard.press("Enter")
        profile_shown(page, "C1")
        expect(page.locator("#profile-heading")).to_be_focused()
        for _ in range(40):
            if focused() == "more":
                break
            page.keyboard.press("Tab")
        assert focused() == "more"
        page.keyboard.press("Enter")
        page.locator("#timeline > li.entry").nth(TIMELINE_SIZE - 1).wait_for(timeout=20_000)
        # focus moves to the first entry of the new page
        assert page.evaluate("[...document.querySelectorAll('#timeline > li')].indexOf(document.activeElement)") == FIRST_PAGE
        assert page.locator("#recommendations .why").first.is_visible()
        page.screenshot(path=str(artifacts / "keyboard.png"), full_page=True)


@browser_only
def test_a_customer_without_personalisation_gets_non_personal_recommendations_said_so(
        seeded: Settings, artifacts: Path) -> None:
    try:
        with TestClient(make_app(seeded)) as client:
            data(client, "mutation($input: SetConsentInput!) { setConsent(input: $input) { granted } }",
                 {"input": {"customerId": "C1", "channel": "web", "purpose": "personalisation", "granted": False}},
                 key=WRITER)
        with served(make_app(seeded)) as port, browser_page(port) as page:
            use_key(page, READER)
            find(page, "C1")
            profile_shown(page, "C1")
            note = page.locator("#recommendations-note")
            assert note.is_visible() and "withdrew personalisation" in note.inner_text()
            assert "non-personal" in note.inner_text()
            assert "personalisation on web: withdrawn" in page.locator("#consents").inner_text().replace("\n", " ")
            cards = page.locator("#recommendations li")
            assert cards.count() >= 1
            for i in range(cards.count()):
                card = cards.nth(i)
                assert card.locator(".tag").inner_text() == "non-personal"
                assert card.locator(".why").inner_text().endswith("not personalised, as you asked")
                assert "their own purchases" not in card.locator(".sources").inner_text()
            assert cards.first.locator(".sources").inner_text() == "Based on: popular with shoppers like them"
            page.screenshot(path=str(artifacts / "no-personalisation.png"), full_page=True)
    finally:
        seed(seeded)  # the module's other tests read the graph as seeded


@browser_only
def test_synthetic_entries_are_labelled_as_the_api_returns_them(seeded: Settings, artifacts: Path) -> None:
    from graph_model import run_query

    try:
        run_query("""MATCH (c:Customer {customerId: 'C1'})
CREATE (m:Message {messageId: 'SYN-M00000001', channel: 'email', sentAt: datetime('2025-04-01T09:00:00Z'),
                   subject: 'Autumn tents'})-[:SENT_TO {at: datetime('2025-04-01T09:00:00Z')}]->(c)
CREATE (m)-[:PART_OF]->(:Campaign {campaignId: 'SYN-CP1', name: 'Autumn tents (synthetic)'})""")
        with served(make_app(seeded)) as port, browser_page(port) as page:
            use_key(page, READER)
            find(page, "C1")
            profile_shown(page, "C1")
            assert page.locator("#synthetic-note").is_visible()
            newest = page.locator("#timeline > li.entry").first
            assert "Autumn tents" in newest.inner_text()
            assert newest.locator(".tag.synthetic").count() == 2  # the message id and its campaign
            assert page.locator("#timeline > li.entry").nth(1).locator(".tag.synthetic").count() == 0
    finally:
        seed(seeded)


@browser_only
def test_the_keep_in_touch_list_opens_a_customer(seeded: Settings, artifacts: Path) -> None:
    from test_api_keep_in_touch import seed_at_risk

    try:
        seed_at_risk()  # C5 (sms marketing granted) and C6 at risk at S1
        with served(make_app(seeded)) as port, browser_page(port) as page:
            use_key(page, READER)
            page.get_by_label("Store id", exact=True).fill("NOPE")
            page.get_by_label("Store id", exact=True).press("Enter")
            assert page.get_by_role("alert").inner_text() == "No store with that id. (NOT_FOUND)"
            page.get_by_label("Store id", exact=True).fill("S1")
            page.get_by_role("button", name="List customers at risk").click()
            rows = page.locator("#keep > li")
            rows.first.wait_for(timeout=20_000)
            assert rows.count() == 2 and page.get_by_role("alert").is_hidden()
            assert "Reach them by: SMS" in rows.nth(0).inner_text()
            assert "hidden for your role" in rows.nth(0).inner_text()
            assert "No marketing consent: talk to them when they come in." in rows.nth(1).inner_text()
            assert no_horizontal_scrolling(page)
            page.screenshot(path=str(artifacts / "keep-in-touch.png"), full_page=True)
            rows.nth(0).get_by_role("button", name="Customer C5").click()
            profile_shown(page, "C5")
            assert dd(page, "Churn risk").startswith("80 %")
    finally:
        seed(seeded)


@browser_only
def test_notes_written_with_a_writer_key_and_read_with_an_admin_key(seeded: Settings, artifacts: Path) -> None:
    from playwright.sync_api import expect

    try:
        with served(make_app(seeded)) as port, browser_page(port) as page:
            use_key(page, READER)
            find(page, "C1")
            profile_shown(page, "C1")
            assert page.locator("#notes").inner_text() == "No notes yet."
            page.get_by_label("New note", exact=True).fill("Prefers the blue tents.")
            page.get_by_role("button", name="Add note").click()
            status = page.locator("#note-status")
            expect(status).to_have_text("Your key's role may not write notes: it needs a writer key.")
            use_key(page, WRITER)
            page.get_by_label("New note", exact=True).fill("Prefers the blue tents.")
            page.get_by_role("button", name="Add note").click()
            expect(status).to_have_text("Note added.")
            assert page.locator("#notes li").count() == 1
            assert page.locator("#notes li").inner_text().endswith("hidden for your role")  # a writer is no admin
            use_key(page, ADMIN)
            find(page, "C1")
            page.locator("#notes li").get_by_text("Prefers the blue tents.").wait_for(timeout=20_000)
            page.screenshot(path=str(artifacts / "notes.png"), full_page=True)
    finally:
        seed(seeded)
