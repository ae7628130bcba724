"""Table models on IBM's public telecom churn sample (issue 17): Zhiwen's training against two baselines on
the same split, training time, and one-row predictions over HTTP.

The held-out split is Zhiwen's own (a fifth of the customers by a hash of their customerID, never used
for choosing); the baselines are fitted on the same training rows: logistic regression on one-hot columns
(numbers standardised, missing imputed) and LightGBM with its default settings. ROC-AUC intervals are
bootstrap 95 % intervals of the held-out rows. Requests go to a real server on 127.0.0.1.

    python -m benchmarks.table_models [--budget 60] [--requests 500]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.common import machine, percentile, serving
from zhiwen.config import Settings
from zhiwen.services.models.evaluate import held_out_figures
from zhiwen.services.models.features import TableEncoder
from zhiwen.services.models.profile import profile_table
from zhiwen.services.models.table import read_table
from zhiwen.services.models.train import TrainSettings, held_out_key, is_held_out
from zhiwen.wiring import Services, build_services

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tabular" / "telco_churn" / "train.csv"
TARGET = "Churn"


def baselines(data: bytes) -> dict[str, Any]:
    """Logistic regression on one-hot columns and default LightGBM, on Zhiwen's training rows."""
    import lightgbm
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    table = read_table(DATA.name, data)
    profile = profile_table(table, TARGET)
    key = held_out_key(profile)  # the same split as Zhiwen's: by customerID
    dev = [r for r in table.rows if not is_held_out(r, TARGET, key)]
    held = [r for r in table.rows if is_held_out(r, TARGET, key)]
    encoder = TableEncoder(profile.columns).fit(dev)
    x_dev, x_held = encoder.transform(dev).matrix, encoder.transform(held).matrix
    y_dev = np.array([r[TARGET] == "Yes" for r in dev], dtype=int)
    y_held = np.array([r[TARGET] == "Yes" for r in held], dtype=int)
    categorical = encoder.categorical_indices
    numeric = [i for i in range(x_dev.shape[1]) if i not in categorical]
    logistic = make_pipeline(
        ColumnTransformer(
            [
                ("one_hot", OneHotEncoder(handle_unknown="ignore"), categorical),
                ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ]
        ),
        LogisticRegression(max_iter=2000),
    ).fit(x_dev, y_dev)
    trees = lightgbm.LGBMClassifier(verbose=-1, random_state=0).fit(
        x_dev, y_dev, categorical_feature=categorical
    )
    out = {}
    for name, model in (("logistic_one_hot", logistic), ("lightgbm_default", trees)):
        scores = np.asarray(model.predict_proba(x_held), dtype=np.float64)
        figures = held_out_figures("classification", ["No", "Yes"], y_held, scores)
        out[name] = {k: figures[k] for k in ("roc_auc", "roc_auc_ci95", "accuracy", "f1", "ece")}
    return out


def predict_over_http(services: Services, workspace_id: str, requests: int) -> dict[str, Any]:
    """p50/p95 of POST /v1/models/churn/predict with one row (explanations on), a real server."""
    key = {"Authorization": f"Bearer {services.keys.issue(workspace_id, 'bench', 'admin').plain}"}
    table = read_table(DATA.name, DATA.read_bytes())
    rows = [
        {k: v for k, v in r.items() if k != TARGET} for r in random.Random(0).choices(table.rows, k=requests)
    ]
    latencies = []
    with serving(services) as url, httpx.Client(base_url=url, headers=key, timeout=30) as client:
        client.post("/v1/models/churn/predict", json={"rows": [rows[0]]}).raise_for_status()  # loads it
        for row in rows:
            started = time.perf_counter()
            client.post("/v1/models/churn/predict", json={"rows": [row]}).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return {
        "requests": len(latencies),
        "predict_p50_ms": round(percentile(latencies, 50), 1),
        "predict_p95_ms": round(percentile(latencies, 95), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="Zhiwen's search budget in seconds")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--data-dir", type=Path, default=Path(".bench/table-models"))
    args = parser.parse_args()
    data = DATA.read_bytes()
    figures: dict[str, Any] = {"machine": machine(), "data": str(DATA.name), "baselines": baselines(data)}
    if args.data_dir.exists():
        import shutil

        shutil.rmtree(args.data_dir)
    services = build_services(Settings(data_dir=args.data_dir))
    try:
        workspace = services.workspaces.create_workspace("bench")
        started = time.perf_counter()
        version = services.table_models.create(
            workspace.id, "churn", DATA.name, data, TARGET, "bench", settings=TrainSettings(args.budget)
        )
        report = version.report
        figures["zhiwen"] = {
            "budget_seconds": args.budget,
            "train_seconds": round(time.perf_counter() - started, 1),
            "chosen": report["chosen"],
            "rows": report["rows"],
            "cross_validated": {k: v["cv"] for k, v in report["comparison"].items()},
            "trials": {k: v["trials"] for k, v in report["comparison"].items()},
            "held_out": {
                k: report["held_out"][k] for k in ("roc_auc", "roc_auc_ci95", "accuracy", "f1", "ece")
            },
            "importance": report["importance"][:5],
        }
        services.table_models.named(workspace.id, "churn").promote(workspace.id, version.version, "bench")
        figures["http"] = predict_over_http(services, workspace.id, args.requests)
    finally:
        services.close()
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
