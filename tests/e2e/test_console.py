"""The admin console in a real browser (Debian's Chromium), as a new administrator uses it: sign in, upload
(a broken file too), read a document's chunks, hit test, read a handed-off conversation and curate its
answer, approve from the review queue, create and promote a release and see a refused one, change a
setting, switch language. Every page is checked with axe-core; no request leaves 127.0.0.1; no console
errors. Set ZHIWEN_SCREENSHOTS=folder to keep a screenshot of each page (docs/console.md uses them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.servers import CHROMIUM, chromium, serving
from zhiwen.types import Workspace
from zhiwen.wiring import Services

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (installed by .ci/run)"
)
ADMIN, PASSWORD = "wang@shop.example", "correct horse battery"
PAGES = (
    "knowledge",
    "hit-test",
    "conversations",
    "review",
    "curated",
    "golden",
    "evaluations",
    "releases",
    "analytics",
    "models",
    "settings",
    "people",
    "trust",
)


@pytest.fixture
def console(demo_copy: tuple[Services, Workspace], tmp_path: Path) -> Iterator[dict[str, Any]]:
    services, workspace = demo_copy
    services.users.create(workspace.id, ADMIN, "Wang", "admin", PASSWORD)
    client_key = services.keys.issue(workspace.id, "site", "client").plain
    with serving(services) as url:
        customer = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {client_key}"}, timeout=60)
        yield {"url": url, "customer": customer, "services": services, "workspace": workspace}
        customer.close()


class Watched:
    """A page with every host it asked and every console error it printed, screenshotted on request."""

    def __init__(self, page: Any, shots: Path | None) -> None:
        self.page, self.shots = page, shots
        self.hosts: set[str] = set()
        self.errors: list[str] = []
        self.refused: set[tuple[str, str, int]] = set()  # (method, path, status) of every 4xx/5xx
        page.on("request", lambda request: self.hosts.add(urlsplit(request.url).hostname or ""))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # Chromium logs every refused request; those are checked one by one in ``refused``.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.refused.add((response.request.method, urlsplit(response.url).path, response.status))

    def go(self, url: str, name: str) -> Any:
        self.page.goto(f"{url}/admin#{name}")
        self.page.locator("main h1").wait_for(timeout=15_000)
        return self.page

    def shot(self, name: str, full_page: bool = True) -> None:
        if self.shots:
            self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=full_page)


def _axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa"], "resultTypes": ["violations"]})
    return [f"{v['id']}: {v['nodes'][0]['target']}" for v in results.response["violations"]]


def test_an_administrator_runs_the_knowledge_lifecycle_in_the_browser(
    console: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, customer = console["url"], console["customer"]
    handed_off = customer.post("/v1/ask", json={"question": "你们的店在火星上有分店吗？"}).json()
    assert handed_off["handoff"]
    disliked = customer.post(
        "/v1/ask", json={"question": "How long is the warranty on the robot vacuum?"}
    ).json()
    customer.post(
        "/v1/feedback",
        json={"answer_id": disliked["answer_id"], "rating": "dislike", "comment": "wrong product"},
    )
    shots = Path(os.environ["ZHIWEN_SCREENSHOTS"]) if os.environ.get("ZHIWEN_SCREENSHOTS") else None
    good = tmp_path / "returns-extra.md"
    good.write_text(
        "# 旧机回收加价\n\n旧机回收加价活动：旧扫地机器人可抵 200 元，仅限会员。\n", encoding="utf-8"
    )
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 this is not really a PDF")

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        context = browser.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}, bypass_csp=False
        )
        watched = Watched(context.new_page(), shots)
        page = watched.page

        # Sign in; the knowledge page lists the documents.
        page.goto(f"{url}/admin")
        page.locator("#email").fill(ADMIN)
        page.locator("#password").fill(PASSWORD)
        page.locator("#signin-form button[type=submit]").click()
        expect(page.locator("main h1")).to_have_text("知识库", timeout=15_000)
        expect(page.locator("main table").first).to_contain_text("退换货政策")

        # Upload a good and a broken file: one result line each, the broken one named in plain words.
        page.locator("main input[type=file]").first.set_input_files([str(good), str(broken)])
        results = page.locator("ul.files li")
        expect(results).to_have_count(2, timeout=30_000)
        expect(page.locator("ul.files li.failed")).to_contain_text("broken.pdf", timeout=30_000)
        expect(page.locator("ul.files li:not(.failed)")).to_contain_text("已添加", timeout=30_000)
        watched.shot("knowledge", full_page=False)
        page.get_by_role("button", name="旧机回收加价").click()
        expect(page.locator("main section h2").last).to_contain_text("旧机回收加价")
        expect(page.locator("main").get_by_text("旧扫地机器人可抵 200 元").first).to_be_visible()

        # Hit testing: the answer with its confidence, the passages, which one was used and why.
        page = watched.go(url, "hit-test")
        page.locator("main textarea").fill("扫地机器人保修多久？")
        page.locator("main form button[type=submit]").click()
        expect(page.locator("main .answer").first).to_be_visible(timeout=30_000)
        expect(page.locator("main table tbody tr").first).to_be_visible()
        expect(page.locator("main .chips span").first).to_be_visible()
        watched.shot("hit-test")

        # Conversations: the handed-off one, opened, becomes a curated answer.
        page = watched.go(url, "conversations")
        page.get_by_label("转人工").select_option("true")
        rows = page.locator("main table tbody tr")
        expect(rows).to_have_count(1, timeout=15_000)
        rows.first.get_by_role("button").click()
        page.get_by_role("button", name="设为标准答案").first.click()
        page.locator("main form.group textarea").fill("我们目前只在地球上有门店。")
        page.locator("main form.group button[type=submit]").click()
        expect(page.locator("main form.group [role=status]")).to_contain_text("已保存")
        watched.shot("conversations")
        curated = console["services"].curated.list_curated(console["workspace"].id)
        assert [c.answer for c in curated] == ["我们目前只在地球上有门店。"]

        # The review queue: approve the disliked question with a corrected answer.
        page = watched.go(url, "review")
        group = page.locator("main .group").filter(has_text="robot vacuum")
        group.locator("textarea").fill("The robot vacuum has a 2-year warranty.")
        watched.shot("review")
        group.get_by_role("button", name="批准").click()
        expect(group).to_have_count(0, timeout=15_000)

        # Releases: one created on the demo golden set passes the gate and goes live…
        console["services"].embedding_worker.run_until_done()  # `zhiwen serve` runs it; this server does not
        page = watched.go(url, "releases")
        page.get_by_label("评测集", exact=True).select_option("demo")
        page.get_by_role("button", name="创建版本").click()
        expect(page.locator("main form [role=status]").first).to_have_text("已创建版本 1", timeout=120_000)
        expect(page.locator("main section h2").first).to_contain_text("版本 1", timeout=180_000)
        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="上线").click()
        expect(page.locator("main table .badge.good")).to_have_text("线上", timeout=180_000)
        watched.shot("releases")
        # …and one held to an impossible minimum is refused, with the reasons shown.
        admin_session = page.request
        csrf = page.evaluate("fetch('/v1/auth/me').then(r => r.json()).then(me => me.csrf_token)")
        put = admin_session.put(
            f"{url}/v1/eval/thresholds",
            data={"minimum": {"answer_accuracy": 0.999}},
            headers={"X-CSRF-Token": csrf},
        )
        assert put.ok, put.text()
        page.get_by_role("button", name="创建版本").click()
        expect(page.locator("main form [role=status]").first).to_have_text("已创建版本 2", timeout=180_000)
        page.locator("main table tbody tr").filter(has_text="版本 2").get_by_role(
            "button", name="上线"
        ).click()
        expect(page.locator("main .problem").first).to_contain_text("not promoted", timeout=180_000)
        expect(page.locator("main .badge.bad")).to_have_text("未通过")

        # Evaluations: the threshold slider says what each setting does.
        page = watched.go(url, "evaluations")
        expect(page.locator("main .says")).to_contain_text("的问题转给人工", timeout=30_000)
        page.get_by_role("button", name="详情").first.click()
        expect(page.locator("main section h2").first).to_contain_text("的评测")
        page.locator("main input[type=range]").fill("0.3")
        expect(page.locator("main .says")).to_contain_text("阈值 0.30")
        watched.shot("evaluations")

        # Settings: a changed value is saved where the API reads it.
        page = watched.go(url, "settings")
        page.get_by_label("top_k").fill("6")
        page.locator("main form").first.get_by_role("button", name="保存").click()
        expect(page.locator("main [role=status]").first).to_have_text("已保存")
        assert console["services"].targets.working_config(console["workspace"].id).top_k == 6
        # Synonyms: a line without "=" is named; nothing is saved until every line reads.
        synonyms = page.get_by_label("同义词")
        synonyms.fill("白金会员, 白金卡 = 铂金卡\n价保")
        page.locator("main form").nth(1).get_by_role("button", name="保存").click()
        expect(page.locator("main .problem").first).to_contain_text("第 2 行")
        assert console["services"].targets.synonyms(console["workspace"].id) == {}
        synonyms.fill("白金会员, 白金卡 = 铂金卡\n价保 = 价格保护")
        page.locator("main form").nth(1).get_by_role("button", name="保存").click()
        expect(page.locator("main form").nth(1).locator("[role=status]")).to_have_text(
            "已保存 3 个同义词 · 版本 1 在线上，客户在下一个版本上线后看到"
        )
        assert console["services"].targets.synonyms(console["workspace"].id) == {
            "白金会员": "铂金卡",
            "白金卡": "铂金卡",
            "价保": "价格保护",
        }
        page.get_by_label("周一").fill("09:00-18:00")
        page.locator("main form").nth(2).get_by_role("button", name="保存").click()
        expect(page.locator("main form").nth(2).locator("[role=status]")).to_have_text("已保存")
        hours = console["services"].desk.settings(console["workspace"].id).hours
        assert hours is not None and hours.timezone == "Asia/Shanghai" and set(hours.weekly) == {"mon"}
        page.get_by_role("button", name="测试连接").click()
        expect(page.locator("main .badge.good").first).to_contain_text("OK", timeout=30_000)

        # Audit and privacy: the changes made above are in the log and its chain holds; a secret is set
        # and never shown; stored conversations get redacted; a customer is exported, then erased.
        page = watched.go(url, "trust")
        expect(page.locator("main table").first).to_contain_text("PATCH /v1/settings")
        expect(page.locator("main table").first).to_contain_text(f"user:{ADMIN}")
        page.get_by_role("button", name="校验哈希链").click()
        expect(page.locator("main p.ok").first).to_contain_text("完好")
        secrets = page.locator("main section").nth(3)
        secrets.get_by_label("名字", exact=True).fill("ORDERS_TOKEN")
        secrets.get_by_label("值", exact=True).fill("tok-e2e-secret")
        secrets.get_by_role("button", name="保存").click()
        expect(secrets.locator("table")).to_contain_text("ORDERS_TOKEN")
        assert "tok-e2e-secret" not in page.content()
        rules = page.locator("main section").nth(1)
        rules.get_by_label("存储会话和回答时去除个人信息").check()
        rules.get_by_role("button", name="保存").click()
        expect(rules.locator("[role=status]")).to_have_text("已保存")
        assert console["services"].privacy.settings(console["workspace"].id).redact_stored
        customer_data = page.locator("main section").nth(2)
        customer_data.get_by_label("会话 ID（空格分隔）").fill(handed_off["conversation_id"])
        customer_data.get_by_role("button", name="导出", exact=True).click()
        expect(customer_data).to_contain_text("找到 1 个会话")
        customer_data.get_by_role("button", name="删除此客户的全部数据").click()
        expect(customer_data.locator("p.ok")).to_contain_text("已检查所有数据表", timeout=30_000)
        watched.shot("trust")

        # Every page: no accessibility violations; then the language switch.
        for name in PAGES:
            page = watched.go(url, name)
            page.wait_for_load_state("networkidle")
            assert _axe_violations(page) == [], name
        page.locator("#language").select_option("en")
        expect(page.locator("nav a").first).to_have_text("Knowledge")
        expect(page.locator("main h1")).to_have_text("Audit & privacy")
        page = watched.go(url, "people")
        expect(page.locator("main h1")).to_have_text("Workspace, users & keys")

        # A tablet's width still shows the navigation and the page.
        page.set_viewport_size({"width": 800, "height": 1000})
        expect(page.locator("nav")).to_be_visible()
        watched.shot("people-tablet")
        browser.close()

    assert watched.hosts == {"127.0.0.1"}, watched.hosts
    assert not watched.errors, watched.errors
    assert watched.refused == {
        ("GET", "/v1/auth/me", 401),  # before signing in
        ("POST", "/v1/releases/2/promote", 409),  # the refused release
    }, watched.refused


def test_an_agent_is_sent_to_the_desk_and_a_wrong_password_is_named(
    console: dict[str, Any],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    services, workspace = console["services"], console["workspace"]
    services.users.create(workspace.id, "li@shop.example", "Li", "agent", PASSWORD)
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_context(locale="en-US").new_page()
        page.goto(f"{console['url']}/admin")
        page.locator("#email").fill("li@shop.example")
        page.locator("#password").fill("not the password")
        page.locator("#signin-form button[type=submit]").click()
        expect(page.locator("#signin-problem")).not_to_be_empty()
        page.locator("#password").fill(PASSWORD)
        page.locator("#signin-form button[type=submit]").click()
        page.wait_for_url("**/desk", timeout=15_000)
        browser.close()


def test_an_administrator_creates_promotes_and_reads_a_table_model_in_the_browser(
    console: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.files import PRODUCTS, churn_rows, photo_zip, product_photo, table_csv

    url = console["url"]
    customers = tmp_path / "customers.csv"
    customers.write_bytes(table_csv(churn_rows(400)))
    photos = tmp_path / "photos.zip"
    photos.write_bytes(
        photo_zip({p: [product_photo(p, 100 * n + i) for i in range(6)] for n, p in enumerate(PRODUCTS)})
    )
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        watched = Watched(context.new_page(), None)
        page = watched.page
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{url}/admin")
        page.locator("#email").fill(ADMIN)
        page.locator("#password").fill(PASSWORD)
        page.locator("#signin-form button[type=submit]").click()
        expect(page.locator("main h1")).to_have_text("知识库", timeout=15_000)

        page = watched.go(url, "models")
        expect(page.locator("main h2").last).to_have_text("表格模型")
        page.get_by_label("名称（小写字母、数字、- 或 _）").fill("churn")
        page.get_by_label("要预测的列").fill("left")
        page.get_by_label("表格（CSV、XLSX 或 JSONL）").set_input_files(str(customers))
        page.get_by_label("搜索时间（秒）：越长通常越准").fill("5")
        page.get_by_role("button", name="创建并训练").click()
        section = page.locator("main section", has=page.locator("h3", has_text="churn（预测 left）"))
        expect(section.locator("table")).to_contain_text("roc_auc", timeout=60_000)
        section.get_by_role("button", name="上线").click()
        expect(section.locator(".badge.good", has_text="通过")).to_be_visible()  # the gate's verdict
        expect(section.locator("table")).to_contain_text("线上")
        section.get_by_role("button", name="校准曲线").click()
        chart = section.locator("img.chart")
        expect(chart).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=chart.element_handle())

        recognizer = page.locator("main section", has=page.locator("h2", has_text="商品识别"))
        with page.expect_file_chooser() as chooser:
            recognizer.get_by_role("button", name="训练新版本").click()
        chooser.value.set_files(str(photos))
        expect(recognizer.locator("table")).to_contain_text("top1", timeout=60_000)
        assert _axe_violations(page) == []
        browser.close()

    assert console["services"].vision.family.versions(console["workspace"].id)[0].report["products"] == 4
    models = console["services"].table_models
    assert models.named(console["workspace"].id, "churn").family.live_version(console["workspace"].id) == 1
    assert watched.hosts == {"127.0.0.1"}, watched.hosts
    assert not watched.errors, watched.errors
    assert watched.refused == {("GET", "/v1/auth/me", 401)}, watched.refused
