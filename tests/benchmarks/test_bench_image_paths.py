"""Image paths in data files stay inside the data root and must be images (issue 13 item 5):
a data file must never make us read, and send to a model server, some other file."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from sophia_eval.bench.loading import DataError, load_split
from sophia_eval.bench.registry import get_benchmark


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    return buf.getvalue()


def _data(image_b: str) -> str:
    return ('{"id": "a", "question": "1+1?", "answer": "2", "image": "a.png"}\n'
            f'{{"id": "b", "question": "2+2?", "answer": "4", "image": "{image_b}"}}\n')


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/etc/passwd", "sub/../../outside.png"])
def test_paths_leaving_the_data_root_are_refused(toy, path):
    _, root = toy({"data.jsonl": _data(path), "a.png": _png(), "sub/x.png": _png()})
    (root.parent / "outside.png").write_bytes(_png())
    with pytest.raises(DataError, match=r"item b\): image path .* absolute or contains '\.\.'"):
        load_split(get_benchmark("toy"), data_dir=root)


def test_a_symlink_out_of_the_data_root_is_refused(toy, tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(_png())
    _, root = toy({"data.jsonl": _data("b.png"), "a.png": _png()})
    (root / "toy" / "b.png").symlink_to(secret)
    with pytest.raises(DataError, match=r"item b\): image path 'b\.png' resolves outside the data root"):
        load_split(get_benchmark("toy"), data_dir=root)


def test_a_file_that_is_not_an_image_is_refused(toy):
    _, root = toy({"data.jsonl": _data("b.png"), "a.png": _png(), "b.png": "root:x:0:0:root:/root:/bin/bash\n"})
    with pytest.raises(DataError, match=r"item b\): image file .*b\.png is not a readable image"):
        load_split(get_benchmark("toy"), data_dir=root)
