"""Table models as a user types them: profile, create, promote, predict a file, drift, the gate, rollback."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.cli.test_cli import zhiwen
from tests.files import churn_rows, table_csv
from zhiwen.errors import Conflict, InvalidInput, NotFound


def test_a_table_is_profiled_trained_promoted_and_predicted_from_the_command_line(tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_bytes(table_csv(churn_rows()))
    zhiwen(tmp_path, "init")
    code, out = zhiwen(tmp_path, "models", "profile", str(customers), "--target", "left")
    assert code == 0 and "identifier" in out and "classification" in out
    code, out = zhiwen(
        tmp_path, "models", "create", "churn", "--from", str(customers), "--target", "left", "--trials", "2"
    )
    assert code == 0 and "held-out ROC-AUC 95 % interval" in out and "zhiwen models promote churn 1" in out
    with pytest.raises(Conflict, match="promote one"):
        zhiwen(tmp_path, "models", "predict", "churn", str(customers))
    code, out = zhiwen(tmp_path, "models", "promote", "churn", "1")
    assert code == 0 and "live" in out
    code, out = zhiwen(tmp_path, "models", "list")
    assert code == 0 and "churn" in out and "v1" in out

    new = tmp_path / "new.csv"
    rows = [{k: v for k, v in r.items() if k != "left"} for r in churn_rows(40, seed=8)]
    new.write_bytes(table_csv(rows))
    predictions = tmp_path / "predictions.csv"
    code, out = zhiwen(tmp_path, "models", "predict", "churn", str(new), "--out", str(predictions))
    assert code == 0 and "40 predictions of churn v1" in out
    written = list(csv.DictReader(predictions.read_text(encoding="utf-8").splitlines()))
    assert len(written) == 40 and {r["prediction"] for r in written} <= {"Yes", "No"}
    assert json.loads(written[0]["drivers"])[0]["column"]
    code, out = zhiwen(tmp_path, "models", "drift", "churn", "--json")
    drift = json.loads(out)
    assert code == 0 and drift["rows"] == 40 and drift["verdict"] in ("stable", "moderate"), drift
    code, out = zhiwen(tmp_path, "models", "show", "churn", "1", "--plots", str(tmp_path / "plots"))
    assert code == 0 and (tmp_path / "plots" / "calibration.png").read_bytes().startswith(b"\x89PNG")

    zhiwen(tmp_path, "models", "gate", "churn", "--min", "roc_auc=0.999")
    code, out = zhiwen(
        tmp_path, "models", "train", "churn", "--from", str(customers), "--trials", "2", "--promote", "--json"
    )
    assert code == 1 and json.loads(out)["promotion"]["passed"] is False  # refused, as `promote` is
    code, out = zhiwen(tmp_path, "models", "promote", "churn", "2")
    assert code == 1 and "below the minimum" in out
    code, out = zhiwen(tmp_path, "models", "versions", "churn")
    assert code == 0 and "v1 (live)" in out and "v2" in out


def test_bad_files_and_names_stop_with_the_reason(tmp_path: Path) -> None:
    zhiwen(tmp_path, "init")
    with pytest.raises(InvalidInput, match="no such file"):
        zhiwen(tmp_path, "models", "profile", str(tmp_path / "missing.csv"), "--target", "y")
    one_value = tmp_path / "one.csv"
    one_value.write_bytes(table_csv([{"x": str(i), "y": "same"} for i in range(60)]))
    with pytest.raises(InvalidInput, match="one value"):
        zhiwen(tmp_path, "models", "create", "m", "--from", str(one_value), "--target", "y")
    with pytest.raises(InvalidInput, match="model name"):
        zhiwen(tmp_path, "models", "create", "Bad Name", "--from", str(one_value), "--target", "x")
    with pytest.raises(NotFound, match="no table model named 'ghost'"):
        zhiwen(tmp_path, "models", "versions", "ghost")

    customers = tmp_path / "customers.csv"
    customers.write_bytes(table_csv(churn_rows()))
    zhiwen(
        tmp_path, "models", "create", "churn", "--from", str(customers), "--target", "left", "--trials", "2"
    )
    zhiwen(tmp_path, "models", "promote", "churn", "1")
    typo = tmp_path / "typo.csv"
    rows = [{k: v for k, v in r.items() if k != "left"} for r in churn_rows(5)]
    rows[3]["tenure"] = "three"
    typo.write_bytes(table_csv(rows))
    with pytest.raises(InvalidInput, match=r"typo\.csv: row 5: tenure must be a number, not 'three'"):
        zhiwen(tmp_path, "models", "predict", "churn", str(typo))
