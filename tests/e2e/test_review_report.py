"""The review analytics report in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiwen.sample_reviews import generate, to_csv
from zhiwen.services.reviews import charts as review_charts
from zhiwen.services.reviews.sentiment_train import SearchSettings
from zhiwen.types import Workspace
from zhiwen.wiring import Services

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (installed by .ci/run)"
)


def test_the_html_report_renders_its_charts_and_product_table(
    services: Services, workspace: Workspace, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    services.reviews.import_file(workspace.id, "reviews.csv", to_csv(generate(400)), score=False)
    model = services.sentiment.train(workspace.id, "test", SearchSettings(candidates=("ngram",)))
    services.sentiment.promote(workspace.id, model.version, "test")
    services.reviews.score(workspace.id)
    services.insights.build_topics(workspace.id)
    report = tmp_path / "report.html"
    report.write_text(review_charts.summary_html(services.insights.summary(workspace.id)), encoding="utf-8")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(report.as_uri())
        widths = page.eval_on_selector_all("img", "images => images.map(i => i.naturalWidth)")
        assert len(widths) == 2 and all(w > 300 for w in widths)
        rows = page.locator("table tr")
        assert rows.count() == 5  # a header and the four products
        assert "扫地机器人 X1" in page.locator("table").inner_text()
        assert page.locator("ol li").count() >= 2  # complaint topics with keywords and examples
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
