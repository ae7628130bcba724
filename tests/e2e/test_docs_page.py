"""The API docs page in a real browser: it loads with no outside host, and a key entered once under
Authorize calls the API."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.servers import CHROMIUM, chromium, serving
from zhiwen.wiring import Services

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (installed by .ci/run)"
)


def test_the_docs_page_works_offline_and_authorizes_with_a_key(services: Services, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    workspace = services.workspaces.create_workspace("acme")
    key = services.keys.issue(workspace.id, "docs", "admin").plain
    with serving(services) as url, sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page(locale="en-US")
        hosts: set[str] = set()
        errors: list[str] = []
        page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or ""))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(f"{url}/docs")
        page.locator(".btn.authorize").click()
        page.locator(".modal-ux input").first.fill(key)
        page.locator(".modal-ux .btn.authorize").first.click()
        page.locator(".modal-ux .btn-done").first.click()
        operation = page.locator("#operations-documents-list_documents")  # among the first rendered
        operation.locator(".opblock-summary").click()
        operation.get_by_text("Try it out").click()
        operation.get_by_text("Execute").click()
        operation.locator(".live-responses-table tr.response .response-col_status").first.wait_for(
            timeout=15_000
        )
        status = operation.locator(
            ".live-responses-table tr.response .response-col_status"
        ).first.inner_text()
        page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
        browser.close()
    assert status.strip().startswith("200")
    assert hosts == {"127.0.0.1"}, hosts
    assert not errors, errors
