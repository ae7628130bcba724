"""Review analytics from the command line: import, train, promote, classify, topics, summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import runner, zhiwen
from zhiwen.cli.app import app
from zhiwen.errors import InvalidInput
from zhiwen.sample_reviews import generate, to_csv


def test_a_shop_owner_goes_from_a_csv_to_a_satisfaction_report(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert zhiwen(data, "init", "--json")[0] == 0
    reviews = tmp_path / "reviews.csv"
    reviews.write_bytes(to_csv(generate(300)) + "，，，\n".encode())
    code, out = zhiwen(data, "reviews", "import", str(reviews), "--no-score", "--json")
    (report,) = json.loads(out)
    assert code == 0 and report["imported"] == 300 and report["problems"][0]["row"] == 302

    code, out = zhiwen(data, "reviews", "train", "--candidates", "ngram", "--promote", "--json")
    trained = json.loads(out)
    assert code == 0 and trained["promotion"]["passed"] and "predictions" not in trained["model"]["report"]
    with pytest.raises(InvalidInput, match="unknown candidate"):
        zhiwen(data, "reviews", "train", "--candidates", "svm")

    code, out = zhiwen(data, "reviews", "score", "--json")
    assert code == 0 and json.loads(out)["scored"] == 300
    code, out = zhiwen(data, "reviews", "classify", "电池续航太短了", "--product", "扫地机器人 X1", "--json")
    assert json.loads(out)[0]["label"] == "negative"
    assert zhiwen(data, "reviews", "topics", "--build", "--json")[0] == 0

    page, chart = tmp_path / "report.html", tmp_path / "trend.png"
    code, out = zhiwen(data, "reviews", "summary", "--html", str(page), "--png", str(chart), "--json")
    assert code == 0 and json.loads(out)["overall"]["reviews"] == 300
    assert "<img" in page.read_text(encoding="utf-8") and chart.read_bytes()[:4] == b"\x89PNG"
    table = runner.invoke(app, ["--data-dir", str(data), "reviews", "summary"])
    assert "扫地机器人 X1" in table.stdout and "%" in table.stdout
    models = runner.invoke(app, ["--data-dir", str(data), "reviews", "models"])
    assert "●" in models.stdout
    code, out = zhiwen(data, "reviews", "models", "--json")
    (listed,) = json.loads(out)["models"]
    assert (
        listed["family"] == "sentiment"
        and listed["report"]["labels"]
        and "predictions" not in listed["report"]
    )
    code, out = zhiwen(data, "reviews", "gate", "--min", "macro_f1=0.5", "--json")
    assert code == 0 and json.loads(out)["minimum"] == {"macro_f1": 0.5}
    promoted = runner.invoke(app, ["--data-dir", str(data), "reviews", "promote", "1"])
    assert promoted.exit_code == 0 and "zhiwen reviews score --all" in promoted.stdout
    confusion = tmp_path / "confusion.png"
    assert (
        zhiwen(data, "reviews", "show", "1", "--plot", str(confusion))[0] == 0
        and confusion.stat().st_size > 0
    )


def test_reviews_help_shows_the_typical_flow() -> None:
    result = runner.invoke(app, ["reviews", "--help"])
    assert result.exit_code == 0 and "zhiwen reviews train" in result.stdout
