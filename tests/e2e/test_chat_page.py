"""The chat page in a real browser (Debian's Chromium driven by Playwright) against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.servers import CHROMIUM, chromium, serving
from zhiwen.types import Workspace
from zhiwen.wiring import Services

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (installed by .ci/run)"
)


@pytest.fixture
def served(demo: tuple[Services, Workspace]) -> Iterator[tuple[str, str]]:
    services, workspace = demo
    key = services.keys.issue(workspace.id, "browser", "client").plain
    with serving(services) as url:
        yield url, key


def test_a_customer_asks_in_the_chat_page_sees_a_cited_answer_and_rates_a_handoff(
    served: tuple[str, str], demo: tuple[Services, Workspace], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, key = served
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_context(locale="zh-CN").new_page()
        page.goto(f"{url}/#key={key}")
        page.fill("#question", "扫地机器人的电机保修几年？")
        page.click("#send")
        answer = page.locator(".msg.bot").last
        answer.locator(".meta").wait_for(timeout=15_000)
        assert "3 年" in answer.inner_text()
        assert "保修政策" in answer.locator(".cites").inner_text()
        assert "extractive" not in answer.inner_text() and "置信度" not in answer.inner_text()
        answer.locator(".cites summary").first.click()
        assert "电机保修 3 年" in answer.locator(".cites .passage").first.inner_text()
        page.fill("#question", "那充电宝呢？")  # a follow-up: the page keeps the conversation
        page.click("#send")
        follow_up = page.locator(".msg.bot").nth(1)
        follow_up.locator(".meta").wait_for(timeout=15_000)
        assert "6 个月" in follow_up.inner_text()
        page.fill("#question", "你们卖电动汽车吗？")
        page.keyboard.press("Enter")
        handoff = page.locator(".msg.bot.handoff")
        handoff.wait_for(timeout=15_000)
        assert "没有客服在线" in handoff.inner_text()  # the desk says who replies when: nobody is online here
        handoff_id = handoff.get_attribute("data-answer-id")
        handoff.locator(".rate-dislike").click()
        handoff.locator(".correction").fill("我们不卖电动汽车，只卖数码产品。")
        handoff.locator(".send-feedback").click()
        handoff.get_by_text("谢谢您的反馈").wait_for(timeout=15_000)
        page.fill("#question", "扫地机器人的电机保修几年？")  # the conversation is the agents' now
        page.click("#send")
        notice = page.locator(".msg.bot.notice")
        notice.wait_for(timeout=15_000)
        assert "已转给人工客服" in notice.inner_text() and "conversation" not in notice.inner_text()
        notice.locator(".new-conversation").click()
        page.fill("#question", "扫地机器人的电机保修几年？")
        page.click("#send")
        fresh = page.locator(".msg.bot").last
        fresh.locator(".meta").wait_for(timeout=15_000)
        assert "3 年" in fresh.inner_text()
        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
        browser.close()
    services, workspace = demo
    given = services.feedback.list_feedback(workspace.id)[0]
    assert (given.rating, given.correction) == ("dislike", "我们不卖电动汽车，只卖数码产品。")
    assert given.answer_id == handoff_id


def test_the_chat_page_explains_a_wrong_key(served: tuple[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(locale="en-US")
        page.goto(f"{url}/#key=zw_wrong")
        page.fill("#question", "Hello?")
        page.click("#send")
        page.locator(".msg.bot.error").wait_for(timeout=15_000)
        assert "unknown or revoked API key" in page.locator(".msg.bot.error").inner_text()
        browser.close()
