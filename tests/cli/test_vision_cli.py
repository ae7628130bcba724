"""`zhiwen vision`: train from a folder of product photos, promote, recognise, and ask with a photo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import zhiwen
from tests.files import PRODUCTS, product_photo
from zhiwen.errors import InvalidInput


def test_a_folder_of_photos_becomes_a_live_recogniser(tmp_path: Path) -> None:
    data, photos = tmp_path / "data", tmp_path / "photos"
    for n, product in enumerate(PRODUCTS):
        (photos / product).mkdir(parents=True)
        for i in range(8):
            (photos / product / f"{i}.jpg").write_bytes(product_photo(product, 100 * n + i))
    assert zhiwen(data, "init")[0] == 0
    code, out = zhiwen(data, "vision", "train", str(photos), "--promote", "--json")
    trained = json.loads(out)
    assert code == 0 and trained["promotion"]["passed"] and trained["model"]["report"]["products"] == 4
    code, out = zhiwen(data, "vision", "models", "--json")
    assert json.loads(out)["live"] == 1
    photo = tmp_path / "customer.jpg"
    photo.write_bytes(product_photo("green-tea", 55_555))
    code, out = zhiwen(data, "vision", "recognize", str(photo), "--no-text", "--json")
    assert code == 0 and json.loads(out)["product"] == "green-tea"
    code, out = zhiwen(data, "vision", "show", "1")
    assert code == 0 and "lowest recall" in out
    with pytest.raises(InvalidInput, match=r"missing: not a folder|missing: cannot read it"):
        zhiwen(data, "vision", "train", str(tmp_path / "missing"))
