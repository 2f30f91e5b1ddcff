"""The console in Chromium through the gateway: a person pastes a token, creates a user, edits
it, meets the stale-etag conflict with its reason, and deletes the user."""

import uuid
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect

from tests.interop.clients import scenario_token

PNG = b"\x89PNG\r\n\x1a\n"


def open_console(browser: Browser, url: str, token: str) -> Page:
    """A new tab on the console, signed in with `token` (each tab keeps its own)."""
    page = browser.new_page()
    page.goto(url)
    page.get_by_label("Bearer token").fill(token)
    page.get_by_role("button", name="Use token").click()
    expect(page.get_by_role("status")).to_contain_text("users on this page")
    return page


def user_row(page: Page, email: str) -> Locator:
    return page.get_by_role("row").filter(has_text=email)


def edit(page: Page, name: str, display_name: str) -> None:
    """Opens the user's edit form (its etag as listed) and types a new display name."""
    page.get_by_role("button", name=f"Edit {name}").click()
    form = page.get_by_role("region", name=f"Edit {name}")
    form.get_by_label("Display name").fill(display_name)


def save(page: Page, name: str) -> None:
    page.get_by_role("region", name=f"Edit {name}").get_by_role("button", name="Save").click()


def test_without_a_token_the_page_says_why(browser: Browser, console_url: str) -> None:
    page = browser.new_page()
    page.goto(console_url)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("UNAUTHENTICATED")
    expect(alert).to_contain_text("reason UNAUTHENTICATED (usersuite.user.v1)")


def test_create_edit_conflict_and_delete(
    browser: Browser, console_url: str, tmp_path: Path
) -> None:
    token = scenario_token()
    email = f"ada.{uuid.uuid4().hex[:12]}@example.com"
    page = open_console(browser, console_url, token)

    created = page.get_by_role("region", name="Create a user")
    created.get_by_label("Display name").fill("Ada Lovelace")
    created.get_by_label("Email").fill(email)
    created.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_contain_text("Created users/")
    name = page.get_by_role("status").inner_text().removeprefix("Created ").removesuffix(".")
    expect(user_row(page, email)).to_contain_text("Ada Lovelace")

    edit(page, name, "Countess of Lovelace")
    save(page, name)
    expect(page.get_by_role("status")).to_have_text(f"Saved {name}.")
    expect(user_row(page, email)).to_contain_text("Countess of Lovelace")

    # Two tabs edit the same user: the second save carries the etag the first one replaced.
    edit(page, name, "Stale Write")
    other = open_console(browser, console_url, token)
    edit(other, name, "Ada King")
    save(other, name)
    expect(other.get_by_role("status")).to_have_text(f"Saved {name}.")
    save(page, name)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("ABORTED")
    expect(alert).to_contain_text("reason ETAG_MISMATCH (usersuite.user.v1)")
    screenshot = tmp_path / "console-stale-etag.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.read_bytes().startswith(PNG)

    # The list shows the other tab's write once reloaded; the delete carries its current etag.
    page.get_by_role("button", name="First page").click()
    expect(user_row(page, email)).to_contain_text("Ada King")
    page.get_by_role("button", name=f"Delete {name}").click()
    expect(page.get_by_role("status")).to_have_text(f"Deleted {name}.")
    expect(user_row(page, email)).to_have_count(0)
