"""The recommendation commands as a user types them: import, train, promote, ask for a user and an item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import zhiwen
from zhiwen.errors import InvalidInput, NotFound
from zhiwen.sample_shop import ShopSettings, write


def test_a_shop_is_trained_promoted_and_served_from_the_command_line(tmp_path: Path) -> None:
    catalog, events = write(tmp_path / "shop", ShopSettings(users=300, items=80))
    zhiwen(tmp_path, "init")
    with pytest.raises(InvalidInput, match="catalogue is empty"):
        zhiwen(tmp_path, "recommend", "train")
    assert zhiwen(tmp_path, "catalog", "import", str(catalog))[0] == 0
    assert zhiwen(tmp_path, "events", "import", str(events))[0] == 0
    code, out = zhiwen(tmp_path, "recommend", "train", "--candidates", "popularity,itemknn", "--json")
    trained = json.loads(out)
    assert code == 0 and trained["promotion"] is None
    assert set(trained["model"]["report"]["test"]) == {"popularity", "itemknn", "chosen"}
    with pytest.raises(NotFound, match="no recommender is live"):
        zhiwen(tmp_path, "recommend", "for", "u00001")
    code, out = zhiwen(tmp_path, "recommend", "promote", "1")
    assert code == 0 and "v1 is live" in out
    code, out = zhiwen(tmp_path, "recommend", "for", "u00001", "-k", "3", "--json")
    assert code == 0 and len(json.loads(out)) == 3
    code, out = zhiwen(tmp_path, "recommend", "similar", "sku-0001", "-k", "2", "--json")
    assert code == 0 and [r["reason"] for r in json.loads(out)] == ["similar_item"] * 2
    code, out = zhiwen(tmp_path, "recommend", "models")
    assert code == 0 and "v1 (live)" in out
    zhiwen(tmp_path, "recommend", "gate", "--min", "ndcg_at_k=0.99")
    code, out = zhiwen(tmp_path, "recommend", "promote", "1")
    assert code == 1 and "below the minimum" in out
    with pytest.raises(InvalidInput, match="metric=value"):
        zhiwen(tmp_path, "recommend", "gate", "--min", "ndcg_at_k")
