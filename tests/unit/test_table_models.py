"""Custom models on a company's table, end to end on the real SQLite store: profile, train, the gate,
promote, predict with explanations, the prediction log, drift, rollback, and bad input of every kind."""

from __future__ import annotations

import random

import pytest

from tests.files import churn_rows, table_csv, xlsx
from zhiwen.errors import Conflict, GateRefused, InvalidInput, NotFound, TooLarge, UnsupportedFormat
from zhiwen.services.models.profile import column_kind
from zhiwen.services.models.table import as_day, as_number, cell_text
from zhiwen.services.models.train import TrainSettings, is_held_out
from zhiwen.types import Workspace
from zhiwen.wiring import Services

FAST = TrainSettings(budget_seconds=60, max_trials=2)  # the defaults and one more: the same on any machine


@pytest.fixture
def churn(services: Services, workspace: Workspace) -> int:
    version = services.table_models.create(
        workspace.id, "churn", "customers.csv", table_csv(churn_rows()), "left", "test", settings=FAST
    )
    return version.version


def test_profile_names_each_column_kind_and_leaves_out_what_cannot_generalise(services: Services) -> None:
    found = services.table_models.profile("customers.csv", table_csv(churn_rows()), "left")
    kinds = {c.name: (c.kind, c.used) for c in found.columns}
    assert found.task == "classification"
    assert found.class_counts["Yes"] + found.class_counts["No"] == 600
    assert kinds["customer_id"] == ("identifier", False)
    assert kinds["country"] == ("constant", False)
    assert kinds["tenure"] == ("numeric", True)
    assert kinds["plan"] == ("categorical", True)
    assert kinds["signed_up"] == ("date", True)
    assert next(c for c in found.columns if c.name == "monthly_fee").missing == pytest.approx(
        17 / 600, abs=1e-3
    )


def test_a_column_that_gives_the_answer_away_is_left_out_and_said(services: Services) -> None:
    rows = churn_rows()
    for row in rows:
        row["cancelled_on"] = "2024-05-01" if row["left"] == "Yes" else ""
        row["left_reason"] = "price" if row["left"] == "Yes" else "none"
    found = services.table_models.profile("customers.csv", table_csv(rows), "left")
    leaked = {c.name: c for c in found.columns}
    for name in ("left_reason", "cancelled_on"):
        assert not leaked[name].used and "leakage" in leaked[name].note
        assert any(w.startswith(name) for w in found.warnings)
    assert leaked["tenure"].used


@pytest.mark.parametrize(
    ("rows", "target", "message"),
    [
        ([{"a": str(i), "y": "1"} for i in range(100)], "y", "one value"),
        ([{"a": str(i), "y": str(i % 2)} for i in range(20)], "y", "at least 50"),
        ([{"a": str(i), "y": "x" if i < 3 else "z"} for i in range(100)], "y", "too few rows of 'x'"),
        ([{"a": str(i), "y": "1"} for i in range(100)], "nope", "no column 'nope'"),
    ],
)
def test_what_cannot_be_learned_is_refused_with_the_reason(
    services: Services, rows: list[dict[str, str]], target: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        services.table_models.profile("t.csv", table_csv(rows), target)


@pytest.mark.parametrize(
    ("filename", "data", "error", "message"),
    [
        ("t.csv", b"", InvalidInput, "empty"),
        ("t.csv", b"a,b\n", InvalidInput, "no rows"),
        ("t.csv", b"a,a,y\n1,2,3\n", InvalidInput, "duplicate"),
        ("t.csv", b"a,y\n1,2,3\n", InvalidInput, "more values than the header"),
        ("t.xlsx", b"PK\x03\x04 not really a workbook", Exception, "not a readable XLSX"),
        ("t.exe", b"MZ\x90\x00", UnsupportedFormat, "expected a .csv"),
    ],
)
def test_broken_files_are_refused_with_a_clear_error(
    services: Services, filename: str, data: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        services.table_models.profile(filename, data, "y")


def test_a_gbk_table_with_chinese_columns_is_read(services: Services) -> None:
    rows = [
        {"套餐": "月付" if i % 2 else "年付", "在网月数": str(i % 40), "流失": "是" if i % 2 else "否"}
        for i in range(80)
    ]
    found = services.table_models.profile("客户.csv", table_csv(rows).decode("utf-8").encode("gbk"), "流失")
    assert {c.name for c in found.columns} == {"套餐", "在网月数"}
    assert set(found.classes) == {"是", "否"}


def test_a_huge_file_is_refused_before_it_is_read(services: Services) -> None:
    with pytest.raises(TooLarge):
        services.table_models.profile("t.csv", b"a,y\n" + b"1,2\n" * 14_000_000, "y")


def test_training_compares_candidates_and_measures_on_rows_it_never_saw(
    services: Services, workspace: Workspace, churn: int
) -> None:
    model = services.table_models.named(workspace.id, "churn").family.get(workspace.id, churn)
    report = model.report
    candidates = {"baseline", "linear", "lightgbm", "blend"}
    assert set(report["comparison"]) == candidates
    assert report["chosen"] in candidates - {"baseline"}
    assert set(report["held_out_candidates"]) == candidates - {report["chosen"]}
    rows = churn_rows()
    held = [r for r in rows if is_held_out(r, "left", "customer_id")]
    assert report["rows"] == {"train": 600 - len(held), "held_out": len(held)}
    figures = report["held_out"]
    assert figures["roc_auc"] > 0.8 > report["held_out_candidates"]["baseline"]["roc_auc"]
    low, high = figures["roc_auc_ci95"]
    assert low <= figures["roc_auc"] <= high
    assert 0 <= figures["ece"] < 0.2 and figures["calibration"]
    top = [c["column"] for c in report["importance"][:2]]
    assert set(top) == {"plan", "tenure"}
    assert "customer_id" not in report["features"]


def test_held_out_customers_stay_held_out_when_the_table_is_exported_again() -> None:
    first = churn_rows(300, seed=3)
    again = [{**r, "tenure": str(int(r["tenure"]) + 1), "monthly_fee": "99"} for r in first]
    by_id = [is_held_out(r, "left", "customer_id") for r in first]
    assert by_id == [is_held_out(r, "left", "customer_id") for r in again]
    assert 0.1 < sum(by_id) / len(by_id) < 0.3
    grown = first + churn_rows(300, seed=4)  # without an identifier, the same rows stay held out
    assert [is_held_out(r, "left") for r in first] == [is_held_out(r, "left") for r in grown[:300]]


def test_promote_predict_explain_log_and_rollback(
    services: Services, workspace: Workspace, churn: int
) -> None:
    models = services.table_models
    with pytest.raises(Conflict, match="promote one"):
        models.predict(workspace.id, "churn", [churn_rows(1)[0]])
    named = models.named(workspace.id, "churn")
    verdict = named.promote(workspace.id, churn, "test")
    assert verdict["passed"], verdict
    risky = {
        "customer_id": "new",
        "tenure": "1",
        "plan": "monthly",
        "signed_up": "2026-01-02",
        "region": "north",
        "country": "CN",
        "monthly_fee": "99",
    }
    loyal = {**risky, "tenure": "70", "plan": "two-year"}
    version, (first, second) = models.predict(workspace.id, "churn", [risky, loyal])
    assert version == churn
    assert first.value == "Yes" and second.value == "No"
    assert first.probabilities is not None and first.probabilities["Yes"] > 0.5 > second.probabilities["Yes"]
    assert {d["column"] for d in first.drivers[:2]} & {"plan", "tenure"}
    plan = next(d for d in first.drivers if d["column"] == "plan")
    assert plan["value"] == "monthly" and plan["effect"] > 0
    logged = models.predictions(workspace.id, "churn")
    assert len(logged) == 2 and logged[0]["inputs"]["plan"] == "two-year"
    assert "customer_id" not in logged[0]["inputs"]

    second_version = models.train(
        workspace.id, "churn", "more.csv", table_csv(churn_rows(1200)), "test", FAST
    )
    named.promote(workspace.id, second_version.version, "test")
    assert named.family.live_version(workspace.id) == second_version.version
    assert named.rollback(workspace.id, "test") == churn
    assert [e["action"] for e in named.family.history(workspace.id)] == ["rollback", "promote", "promote"]


def test_bad_rows_to_predict_get_answers_naming_the_problem(
    services: Services, workspace: Workspace, churn: int
) -> None:
    models = services.table_models
    models.named(workspace.id, "churn").promote(workspace.id, churn, "test")
    row = {
        "tenure": "5",
        "plan": "monthly",
        "signed_up": "2026-01-02",
        "region": "north",
        "monthly_fee": "50",
    }
    with pytest.raises(InvalidInput, match=r"lacks column.*tenure"):
        models.predict(workspace.id, "churn", [{k: v for k, v in row.items() if k != "tenure"}])
    with pytest.raises(InvalidInput, match="row 2: tenure must be a number, not 'five'"):
        models.predict(workspace.id, "churn", [row, {**row, "tenure": "five"}])
    with pytest.raises(InvalidInput, match="signed_up must be a date"):
        models.predict(workspace.id, "churn", [{**row, "signed_up": "yesterday"}])
    with pytest.raises(InvalidInput, match="no rows"):
        models.predict(workspace.id, "churn", [])
    _, (unseen,) = models.predict(workspace.id, "churn", [{**row, "plan": "weekly", "monthly_fee": ""}])
    assert unseen.warnings == ["plan: 'weekly' was never seen in training; read as missing"]
    with pytest.raises(NotFound, match="no table model named 'nope'"):
        models.predict(workspace.id, "nope", [row])
    assert all(len(r["inputs"]) == 5 for r in models.predictions(workspace.id, "churn"))


def test_drift_shows_the_column_that_moved(services: Services, workspace: Workspace, churn: int) -> None:
    models = services.table_models
    models.named(workspace.id, "churn").promote(workspace.id, churn, "test")
    rows = churn_rows(200, seed=9)
    assert models.drift(workspace.id, "churn")["verdict"] == "too_few"
    models.predict(workspace.id, "churn", rows)
    same = models.drift(workspace.id, "churn")
    assert same["verdict"] == "stable", same
    for row in rows:
        row["plan"] = "monthly"
        row["tenure"] = str(int(row["tenure"]) // 10)
    models.predict(workspace.id, "churn", rows)
    moved = models.drift(workspace.id, "churn", limit=200)
    assert moved["verdict"] == "shifted"
    assert {c["column"] for c in moved["columns"][:2]} == {"plan", "tenure"}
    assert next(c for c in moved["columns"] if c["column"] == "region")["level"] == "stable"


def test_a_model_no_better_than_guessing_does_not_pass_the_gate(
    services: Services, workspace: Workspace
) -> None:
    rng = random.Random(5)
    noise = [
        {"x": str(rng.random()), "colour": rng.choice("abc"), "y": rng.choice(["a", "b"])} for _ in range(300)
    ]
    version = services.table_models.create(
        workspace.id, "noise", "noise.csv", table_csv(noise), "y", "test", settings=FAST
    )
    named = services.table_models.named(workspace.id, "noise")
    verdict = named.check(workspace.id, version.version)
    assert not verdict["passed"]
    assert any("baseline" in f for f in verdict["failures"]), verdict
    with pytest.raises(GateRefused):
        named.promote(workspace.id, version.version, "test")


def test_a_quantity_is_learned_by_regression(services: Services, workspace: Workspace) -> None:
    rng = random.Random(7)
    rows = []
    for _ in range(400):
        area = rng.uniform(30, 200)
        city = rng.choice(["beijing", "chengdu", "xian"])
        price = area * {"beijing": 9, "chengdu": 3, "xian": 2}[city] + rng.gauss(0, 20)
        rows.append({"area": f"{area:.1f}", "city": city, "price": f"{price:.0f}"})
    version = services.table_models.create(
        workspace.id, "price", "homes.csv", table_csv(rows), "price", "test", settings=FAST
    )
    held = version.report["held_out"]
    assert version.report["task"] == "regression"
    assert held["r2"] > 0.9 and held["rmse"] < held["rmse_ci95"][1] + 1e-9
    named = services.table_models.named(workspace.id, "price")
    named.promote(workspace.id, version.version, "test")
    _, (prediction,) = services.table_models.predict(
        workspace.id, "price", [{"area": "100", "city": "beijing"}]
    )
    assert isinstance(prediction.value, float) and 700 < prediction.value < 1100
    assert prediction.probability is None


def test_names_and_definitions(services: Services, workspace: Workspace, churn: int) -> None:
    models = services.table_models
    with pytest.raises(Conflict, match="exists"):
        models.create(workspace.id, "churn", "c.csv", table_csv(churn_rows()), "left", "test", settings=FAST)
    for bad in ("Churn", "../x", "", "a" * 65, "名字"):
        with pytest.raises(InvalidInput, match="model name"):
            models.check_new(workspace.id, bad, "c.csv", table_csv(churn_rows()), "left")
    rows = [{**r, "left": str(i)} for i, r in enumerate(churn_rows())]
    with pytest.raises(InvalidInput, match="classification"):
        models.train(workspace.id, "churn", "c.csv", table_csv(rows), "test", FAST)
    models.delete(workspace.id, "churn")
    assert models.definitions(workspace.id) == {}
    with pytest.raises(NotFound):
        models.delete(workspace.id, "churn")


def test_column_kinds_read_numbers_dates_and_ids() -> None:
    assert column_kind("amount", ["1,234.5", "12%", "7", ""])[0] == "numeric"
    assert column_kind("day", ["2024-01-05", "2024/02/06", "2024-03-07 10:00"])[0] == "date"
    assert column_kind("order_id", [str(i) for i in range(100)])[0] == "identifier"
    assert (
        column_kind("comment", [f"the parcel number {i} came late and broken" for i in range(40)])[0]
        == "text"
    )
    assert column_kind("empty", ["", "NA", None])[0] == "empty"


def test_an_xlsx_table_is_read_like_a_csv(services: Services) -> None:
    rows = churn_rows(120)
    columns = list(rows[0])
    workbook = xlsx([columns, *([r[c] for c in columns] for r in rows)])
    found = services.table_models.profile("customers.xlsx", workbook, "left")
    assert found.rows == 120 and {c.name: c.kind for c in found.columns}["plan"] == "categorical"


def test_numbers_past_a_float_are_not_numbers(services: Services, workspace: Workspace, churn: int) -> None:
    models = services.table_models
    models.named(workspace.id, "churn").promote(workspace.id, churn, "test")
    row = {
        "tenure": "5",
        "plan": "monthly",
        "signed_up": "2026-01-02",
        "region": "north",
        "monthly_fee": "50",
    }
    for huge in ("1e999", 10**400, float("inf"), "9" * 400):
        with pytest.raises(InvalidInput, match="tenure must be a number"):
            models.predict(workspace.id, "churn", [{**row, "tenure": huge}])
    rows = churn_rows(200)
    rows[0]["monthly_fee"] = "1e999"
    assert services.table_models.profile("t.csv", table_csv(rows), "left").rows == 200


def test_a_class_missing_from_the_held_out_rows_fails_the_gate_by_name(
    services: Services, workspace: Workspace
) -> None:
    rng = random.Random(11)
    rows = [
        {
            "id": f"A{i}",
            "x": f"{rng.random():.3f}",
            "kind": rng.choice("pq"),
            "y": rng.choice(["big", "small"]),
        }
        for i in range(300)
    ]
    rare = [f"R{i}" for i in range(200) if not is_held_out({"id": f"R{i}"}, "y", "id")][:6]
    rows += [{"id": i, "x": "0.5", "kind": "p", "y": "odd"} for i in rare]
    version = services.table_models.create(
        workspace.id, "three", "t.csv", table_csv(rows), "y", "test", settings=FAST
    )
    held = version.report["held_out"]
    assert held["roc_auc"] is None and held["missing_classes"] == ["odd"]
    verdict = services.table_models.named(workspace.id, "three").check(workspace.id, version.version)
    assert not verdict["passed"]
    assert any("no held-out rows of odd" in f for f in verdict["failures"])


def test_a_deleted_name_created_again_starts_a_new_family(
    services: Services, workspace: Workspace, churn: int
) -> None:
    models = services.table_models
    models.named(workspace.id, "churn").promote(workspace.id, churn, "test")
    models.delete(workspace.id, "churn")
    rows = [{**r, "left": "Yes" if r["plan"] == "monthly" else "No"} for r in churn_rows(300, seed=5)]
    again = models.create(workspace.id, "churn", "c.csv", table_csv(rows), "left", "test", settings=FAST)
    named = models.named(workspace.id, "churn")
    assert again.family == "table:churn~2" and again.version == 1
    assert named.family.live_version(workspace.id) is None and named.family.history(workspace.id) == []
    with pytest.raises(Conflict, match="promote one"):
        models.predict(workspace.id, "churn", [churn_rows(1)[0]])


def test_cells_as_spreadsheets_and_json_write_them() -> None:
    assert column_kind("Amount Paid", ["12.5", "13", "99.9"])[0] == "numeric"
    assert column_kind("UserId", [str(i) for i in range(50)])[0] == "identifier"
    assert as_day("2024-1-1 2:30") == as_day("2024-01-01")
    assert as_day("2024-1-5 09:30") == as_day("2024-01-05")
    assert column_kind("vip", [True, False, True])[0] == "categorical"
    assert cell_text(True) == "TRUE" and as_number(True) is None


def test_rows_without_their_identifier_are_split_by_content() -> None:
    rows = [{"id": "", "x": str(i), "y": "a"} for i in range(200)]
    held = [is_held_out(r, "y", "id") for r in rows]
    assert 0.1 < sum(held) / len(held) < 0.3  # not all on one side
    assert cell_text("True") == cell_text(True) == cell_text("true") == "TRUE"


def test_a_retrained_version_keeps_the_first_versions_split(
    services: Services, workspace: Workspace, churn: int
) -> None:
    models = services.table_models
    assert models.definition(workspace.id, "churn")["split_key"] == "customer_id"
    repeated = churn_rows() + churn_rows(100)  # customers repeat: the column no longer reads as an id
    again = models.train(workspace.id, "churn", "more.csv", table_csv(repeated), "test", FAST)
    assert again.report["split_key"] == "customer_id"
    assert "customer_id" not in again.report["features"]  # repeated, it is still an id by its name


def test_training_progress_only_moves_forward_across_steps() -> None:
    from zhiwen.services.models.train import overall_progress

    steps = ["searching baseline", "searching linear", "searching lightgbm", "fitting lightgbm"]
    seen = [overall_progress(step, done) for step in steps for done in (0.0, 0.5, 1.0)]
    assert seen == sorted(seen) and seen[-1] < 1.0
