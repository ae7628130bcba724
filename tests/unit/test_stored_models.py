"""Models pickled before the services moved into capability folders still load: their classes and
functions are found under the new module paths."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import sparse

from zhiwen.services.lifecycle.stored_models import MOVED, dump_model, load_model
from zhiwen.services.recommend.models import PopularityRecommender


def _as_pickled_before_the_move(model: object) -> bytes:
    """Protocol 0 names each class as text ("c<module>\\n<name>\\n"), so the old paths can be written in."""
    blob = pickle.dumps(model, protocol=0)
    for old, new in MOVED.items():
        blob = blob.replace(f"c{new}\n".encode(), f"c{old}\n".encode())
    return blob


def test_a_model_pickled_under_the_old_module_paths_loads_and_predicts() -> None:
    fitted = PopularityRecommender().fit(
        sparse.csr_matrix(np.array([[1, 0, 2], [0, 0, 1]], dtype=np.float32))
    )
    old = _as_pickled_before_the_move(fitted)
    assert b"czhiwen.services.recommend_models\n" in old
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(old)
    loaded = load_model(old)
    assert isinstance(loaded, PopularityRecommender)
    assert np.array_equal(loaded.popularity_, fitted.popularity_)
    assert np.array_equal(load_model(dump_model(fitted)).popularity_, fitted.popularity_)


def test_every_moved_module_exists_under_its_new_path() -> None:
    import importlib

    for new in MOVED.values():
        importlib.import_module(new)
