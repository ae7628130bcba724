"""Training a table model: a held-out split set aside first and never used for choosing; on the rest,
three candidates (a baseline, a regularised linear model, gradient-boosted trees with LightGBM) compared by
cross-validation, each searched with Optuna within a share of the time budget; the winner refitted on all
of it, its probabilities calibrated on its out-of-fold scores, and only then measured on the held-out rows.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zhiwen.errors import InvalidInput
from zhiwen.services.models.drift import DriftReference
from zhiwen.services.models.evaluate import held_out_figures, importance
from zhiwen.services.models.features import Matrix, TableEncoder
from zhiwen.services.models.model import Platt, TableModel
from zhiwen.services.models.profile import TableProfile
from zhiwen.services.models.table import Row, Table, as_number, cell_text, is_missing

HELD_OUT_SHARE = 0.2
FOLDS = 5
DEFAULT_BUDGET_SECONDS = 60.0
LINEAR_SHARE = 0.2  # of the search budget; the rest goes to the trees
CANDIDATES = ("baseline", "linear", "lightgbm")
BLEND_WEIGHTS = (0.25, 0.5, 0.75)  # of the linear model, tried when both it and the trees are candidates
Progress = Callable[[str, float], None]


@dataclass
class TrainSettings:
    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    candidates: Sequence[str] = CANDIDATES
    seed: int = 0
    # At most this many trials per candidate: with a budget that is not reached, the same table gives the
    # same model on any machine (the sampler is seeded); a budget alone depends on the machine's speed.
    max_trials: int | None = None


@dataclass
class Trained:
    model: TableModel
    report: dict[str, Any]


# Each step's share of the whole training, for one progress figure (the budget is mostly the trees').
_STEPS = {
    "searching baseline": (0.0, 0.02),
    "searching linear": (0.02, 0.2),
    "searching lightgbm": (0.22, 0.7),
}


def overall_progress(step: str, done: float) -> float:
    """A step's progress as a fraction of the whole training (the last step, fitting, is the rest)."""
    start, share = _STEPS.get(step, (0.92, 0.08))
    return min(0.99, start + share * max(0.0, min(done, 1.0)))


def is_held_out(row: Row, target: str, key: str | None = None) -> bool:
    """Held out by the row's identifier when the table has one (the customer id), so the same customer
    stays held out when the table is exported again with their figures changed; otherwise by the row's
    content (target excluded), so the same row does."""
    if key is not None and not is_missing(row.get(key)):
        text = cell_text(row.get(key))
    else:  # no identifier column, or a row without its identifier
        text = json.dumps(
            {k: cell_text(v) for k, v in row.items() if k != target}, sort_keys=True, ensure_ascii=False
        )
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < HELD_OUT_SHARE


def held_out_key(profile: TableProfile) -> str | None:
    """The column that names a row's subject (the first identifier), if the table has one."""
    return next((c.name for c in profile.columns if c.kind == "identifier"), None)


def train_table(
    table: Table,
    profile: TableProfile,
    settings: TrainSettings | None = None,
    progress: Progress | None = None,
    split_key: str | None = None,
) -> Trained:
    """Train on ``table`` as ``profile`` reads it; rows are held out by ``split_key`` (the column the
    model's first version was split by) or, without one, by :func:`held_out_key`."""
    settings = settings or TrainSettings()
    report_progress = progress or (lambda _step, _done: None)
    started = time.perf_counter()
    rows = [row for row in table.rows if not is_missing(row.get(profile.target))]
    key = split_key if split_key in table.columns else held_out_key(profile)
    # Kept for the gate's side-by-side with the live version, which may read columns this table's profile
    # leaves out; identifiers and free text never (personal data).
    readable = [c.name for c in profile.columns if c.kind not in ("identifier", "text")]
    dev = [r for r in rows if not is_held_out(r, profile.target, key)]
    held = [r for r in rows if is_held_out(r, profile.target, key)]
    y_dev, y_held, classes, positive = _targets(profile, dev, held)
    encoder = TableEncoder(profile.columns).fit(dev)
    x_dev = encoder.transform(dev).matrix
    x_held = encoder.transform(held).matrix
    search = _Search(profile.task, classes, encoder.categorical_indices, y_dev, settings)
    comparison = {}
    for name in settings.candidates:
        comparison[name] = search.run(name, x_dev, report_progress)
    if {"linear", "lightgbm"} <= set(comparison):
        comparison["blend"] = search.blend(comparison)
    winner = _winner(comparison)
    report_progress(f"fitting {winner}, measuring on held-out rows", 0.5)
    estimator = search.fit(winner, comparison[winner]["params"], x_dev, y_dev)
    calibration = None
    if profile.task == "classification" and len(classes) == 2:
        calibration = _platt(search.oof[winner], y_dev)
    model = TableModel(
        task=profile.task,
        target=profile.target,
        kind=winner,
        encoder=encoder,
        estimator=estimator,
        classes=classes,
        positive=positive,
        calibration=calibration,
        drift_reference=DriftReference.of([(c.name, c.kind) for c in encoder.columns_], dev),
        held_out_rows=[{k: cell_text(r.get(k)) for k in readable} for r in held],
        held_out_truth=list(y_held.tolist())
        if profile.task == "regression"
        else [classes[int(i)] for i in y_held],
    )
    report: dict[str, Any] = {
        "task": profile.task,
        "target": profile.target,
        "classes": classes,
        "positive": positive,
        "rows": {"train": len(dev), "held_out": len(held)},
        "split_key": key,
        "features": model.columns,
        "profile": profile.to_dict(),
        "comparison": {
            k: {"cv": v["cv"], "params": v["params"], "trials": v["trials"]} for k, v in comparison.items()
        },
        "chosen": winner,
        "cv_metric": search.metric,
    }
    if len(held):
        report["held_out"] = held_out_figures(profile.task, classes, y_held, model.scores(x_held))
        report["held_out_candidates"] = {
            name: held_out_figures(profile.task, classes, y_held, _scores(profile.task, est, x_held))
            for name, est in ((n, search.fit(n, comparison[n]["params"], x_dev, y_dev)) for n in comparison)
            if name != winner
        }
        report["importance"] = importance(model, x_held, y_held, seed=settings.seed)
    report["train_seconds"] = round(time.perf_counter() - started, 1)
    return Trained(model, report)


def _targets(
    profile: TableProfile, dev: Sequence[Row], held: Sequence[Row]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], list[str], str | None]:
    if profile.task == "regression":
        y_dev = np.array([as_number(r[profile.target]) for r in dev], dtype=float)
        y_held = np.array([as_number(r[profile.target]) for r in held], dtype=float)
        return y_dev, y_held, [], None
    classes = sorted(profile.classes)
    index = {c: i for i, c in enumerate(classes)}
    y_dev = np.array([index[cell_text(r[profile.target])] for r in dev])
    y_held = np.array([index[cell_text(r[profile.target])] for r in held])
    counts = np.bincount(y_dev, minlength=len(classes))
    scarce = [f"{classes[i]!r} ({int(n)})" for i, n in enumerate(counts) if n < 2]
    if scarce:
        raise InvalidInput(
            f"too few training rows of {', '.join(scarce)} once the held-out fifth is set aside: each value"
            " needs at least 2 for cross-validation; add rows"
        )
    # Binary: the rarer class is the one whose probability is asked for ("will this customer churn?").
    positive = min(classes, key=lambda c: profile.class_counts[c]) if len(classes) == 2 else None
    if positive is not None and classes.index(positive) == 0:
        classes.reverse()
        y_dev, y_held = 1 - y_dev, 1 - y_held
    return y_dev, y_held, classes, positive


def _winner(comparison: dict[str, dict[str, Any]]) -> str:
    """The best cross-validated score; a simpler candidate wins a tie (within 0.001 ROC-AUC, or 0.1 % of
    the RMSE)."""
    best = max(v["cv"] for v in comparison.values())
    tie = 0.001 if best > 0 else 0.001 * abs(best)
    order = (*CANDIDATES, "blend")
    return next(name for name in order if name in comparison and comparison[name]["cv"] >= best - tie)


def _platt(oof: npt.NDArray[np.float64], y: npt.NDArray[Any]) -> Platt:
    from sklearn.linear_model import LogisticRegression

    p = np.clip(oof[:, 1], 1e-6, 1 - 1e-6)
    fitted = LogisticRegression(C=1e6).fit(np.log(p / (1 - p)).reshape(-1, 1), y)
    return Platt(float(fitted.coef_[0, 0]), float(fitted.intercept_[0]))


def _scores(task: str, estimator: Any, x: Matrix) -> npt.NDArray[np.float64]:
    if task == "regression":
        return np.asarray(estimator.predict(x), dtype=np.float64)
    return np.asarray(estimator.predict_proba(x), dtype=np.float64)


class _Search:
    """Cross-validated search of each candidate's settings with Optuna, the folds fixed for all."""

    def __init__(
        self,
        task: str,
        classes: list[str],
        categorical: list[int],
        y: npt.NDArray[Any],
        settings: TrainSettings,
    ) -> None:
        from sklearn.model_selection import KFold, StratifiedKFold

        self.task = task
        self.classes = classes
        self.categorical = categorical
        self.y = y
        self.settings = settings
        if task == "classification":
            folds = max(2, min(FOLDS, int(np.bincount(y).min())))
            splitter: Any = StratifiedKFold(folds, shuffle=True, random_state=settings.seed)
        else:
            splitter = KFold(FOLDS, shuffle=True, random_state=settings.seed)
        self.folds = list(splitter.split(np.zeros(len(y)), y))
        self.metric = "rmse" if task == "regression" else "roc_auc"
        self.oof: dict[str, npt.NDArray[np.float64]] = {}
        # One thread per fit: OpenMP threads that spin while the server's other work holds the cores made
        # fits several times slower than one thread (measured on 2 cores).
        self.threads = 1

    def run(self, name: str, x: Matrix, progress: Progress) -> dict[str, Any]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        step = f"searching {name}"
        progress(step, 0.0)
        if name == "baseline":
            score, oof = self._cross_validate(name, {}, x)
            self.oof[name] = oof
            progress(step, 1.0)
            return {"cv": score, "params": {}, "trials": 1}
        budget = self.settings.budget_seconds * (LINEAR_SHARE if name == "linear" else 1 - LINEAR_SHARE)
        started = time.perf_counter()
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=self.settings.seed)
        )
        study.enqueue_trial(_DEFAULTS[name])  # the library's defaults are always one of the trials
        best: dict[str, Any] = {}

        def objective(trial: optuna.Trial) -> float:
            params = _suggest(name, trial, self.task)
            score, oof = self._cross_validate(name, params, x)
            if not best or score > best["cv"]:
                best.update(cv=score, params=params, oof=oof)
            progress(step, min(1.0, (time.perf_counter() - started) / budget))
            return score

        # A setting that cannot fit these data (e.g. spline knots on a column of few values) fails its
        # trial only.
        trials = min(200 if name == "lightgbm" else 30, self.settings.max_trials or 200)
        study.optimize(objective, n_trials=trials, timeout=max(budget, 0.5), catch=(ValueError,))
        self.oof[name] = best["oof"]
        progress(step, 1.0)
        return {"cv": round(best["cv"], 5), "params": best["params"], "trials": len(study.trials)}

    def _cross_validate(
        self, name: str, params: dict[str, Any], x: Matrix
    ) -> tuple[float, npt.NDArray[np.float64]]:
        width = 1 if self.task == "regression" else len(self.classes)
        oof = np.zeros((len(self.y), width))
        for train, test in self.folds:
            estimator = self.fit(name, params, x[train], self.y[train])
            scores = _scores(self.task, estimator, x[test])
            oof[test] = scores.reshape(len(test), width)
        return self._score(oof), oof

    def _score(self, oof: npt.NDArray[np.float64]) -> float:
        from sklearn.metrics import roc_auc_score

        if self.task == "regression":
            return -float(np.sqrt(np.mean((oof[:, 0] - self.y) ** 2)))
        if len(self.classes) == 2:
            return float(roc_auc_score(self.y, oof[:, 1]))
        return float(roc_auc_score(self.y, oof, multi_class="ovr", labels=list(range(len(self.classes)))))

    def blend(self, comparison: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The linear model and the trees averaged, the weight chosen on their out-of-fold scores."""
        scored = []
        for weight in BLEND_WEIGHTS:
            scored.append(
                (self._score(weight * self.oof["linear"] + (1 - weight) * self.oof["lightgbm"]), weight)
            )
        score, weight = max(scored)
        self.oof["blend"] = weight * self.oof["linear"] + (1 - weight) * self.oof["lightgbm"]
        params = {
            "weight_linear": weight,
            "linear": comparison["linear"]["params"],
            "lightgbm": comparison["lightgbm"]["params"],
        }
        return {"cv": round(score, 5), "params": params, "trials": len(BLEND_WEIGHTS)}

    def fit(self, name: str, params: dict[str, Any], x: Matrix, y: npt.NDArray[Any]) -> Any:
        if name == "blend":
            parts = [self.fit(n, params[n], x, y) for n in ("linear", "lightgbm")]
            weights = [params["weight_linear"], 1 - params["weight_linear"]]
            return Blend(parts, weights, self.task == "regression")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator = self._make(name, params)
            if name == "lightgbm":
                return estimator.fit(x, y, categorical_feature=self.categorical or "auto")
            return estimator.fit(x, y)

    def _make(self, name: str, params: dict[str, Any]) -> Any:
        classify = self.task == "classification"
        if name == "baseline":
            from sklearn.dummy import DummyClassifier, DummyRegressor

            return DummyClassifier(strategy="prior") if classify else DummyRegressor()
        if name == "linear":
            return _linear(self.categorical, classify, params)
        import lightgbm

        common = {
            "verbose": -1,
            "random_state": self.settings.seed,
            "n_jobs": self.threads,
            **_lgbm_params(params),
        }
        return lightgbm.LGBMClassifier(**common) if classify else lightgbm.LGBMRegressor(**common)


_DEFAULTS: dict[str, dict[str, Any]] = {
    "linear": {"c": 1.0, "splines": False, "balanced": False},
    "lightgbm": {
        "n_estimators": 100,
        "learning_rate": 0.1,
        "num_leaves": 31,
        "min_child_samples": 20,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_lambda": 1e-3,
        "balanced": False,
    },
}


def _suggest(name: str, trial: Any, task: str) -> dict[str, Any]:
    if name == "linear":
        params = {
            "c": trial.suggest_float("c", 1e-3, 100, log=True),
            "splines": trial.suggest_categorical("splines", [False, True]),
        }
    else:
        params = {
            "n_estimators": trial.suggest_int("n_estimators", 50, 800, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.3, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30, log=True),
        }
    if task == "classification":
        params["balanced"] = trial.suggest_categorical("balanced", [False, True])
    return params


def _lgbm_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in params.items() if k != "balanced"}
    if params.get("balanced"):
        out["class_weight"] = "balanced"
    if out.get("subsample", 1.0) < 1.0:
        out["subsample_freq"] = 1
    return out


def _linear(categorical: list[int], classify: bool, params: dict[str, Any]) -> Any:
    """Numbers imputed (with a missing flag), as splines if chosen (a curve per number: churn falls fast in
    the first months, then slowly), standardised; categories one-hot; logistic regression or ridge, with the
    strength Optuna chose."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

    numbers: Any = SimpleImputer(strategy="median", add_indicator=True)
    if params.get("splines"):
        numbers = make_union(
            make_pipeline(SimpleImputer(strategy="median"), SplineTransformer(n_knots=5, knots="quantile")),
            MissingIndicator(features="all"),
        )
    columns = ColumnTransformer(
        [
            (
                "categories",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1), OneHotEncoder(handle_unknown="ignore")
                ),
                categorical,
            ),
            ("numbers", make_pipeline(numbers, StandardScaler()), _NonCategorical(categorical)),
        ],
    )
    c = float(params.get("c", 1.0))
    if classify:
        model: Any = LogisticRegression(
            C=c, max_iter=2000, class_weight="balanced" if params.get("balanced") else None
        )
    else:
        model = Ridge(alpha=1 / c)
    return make_pipeline(columns, model)


class _NonCategorical:
    """Selects the columns that are not categories (a callable, so the width is read at fit time)."""

    def __init__(self, categorical: list[int]) -> None:
        self.categorical = set(categorical)

    def __call__(self, x: Matrix) -> list[int]:
        return [i for i in range(x.shape[1]) if i not in self.categorical]


class Blend:
    """A weighted average of fitted models' probabilities (or values)."""

    def __init__(self, models: Sequence[Any], weights: Sequence[float], regression: bool) -> None:
        self.models = list(models)
        self.weights = list(weights)
        self.regression = regression

    def predict_proba(self, x: Matrix) -> npt.NDArray[np.float64]:
        return np.asarray(sum(w * m.predict_proba(x) for m, w in zip(self.models, self.weights, strict=True)))

    def predict(self, x: Matrix) -> npt.NDArray[Any]:
        if self.regression:
            return np.asarray(sum(w * m.predict(x) for m, w in zip(self.models, self.weights, strict=True)))
        return np.asarray(self.predict_proba(x).argmax(axis=1))
