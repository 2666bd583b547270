"""build_corrupted: a semantic-segmentation set's corrupted copy holds images only, keyed by path, and its
registered cells point at the dataset's own label files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fan_det.build_corrupted import main
from fan_det.corruptions import corrupt, read_rgb
from fan_det.data.identity import dataset_root, image_key

DATASET = "fan_synth_seg_val"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("city_c") / "synth_seg"
    assert main(["--dataset", DATASET, "--corruptions", "fog", "--severities", "2", "--out", str(out),
                 "--no-progress"]) == 0
    return out


def test_only_images_are_written_under_their_keys(built):
    from detectron2.data import DatasetCatalog

    manifest = json.loads((built / "manifest.json").read_text())
    records = DatasetCatalog.get(DATASET)
    root = dataset_root(DATASET)
    keys = [str(image_key(r, root)) for r in records]
    assert sorted(manifest["images"]) == sorted(keys) and len(keys) == 40
    written = sorted(p.relative_to(built).as_posix() for p in built.rglob("*.png"))
    assert written == sorted(f"fog/2/{k}" for k in keys)  # one file per image, no label file
    first = records[0]
    expected = corrupt(read_rgb(first["file_name"]), "fog", 2, seed=0, key=image_key(first, root))
    assert np.array_equal(read_rgb(built / "fog" / "2" / keys[0]), expected)


def test_registered_cells_read_the_original_labels(built):
    from detectron2.data import DatasetCatalog

    from fan_det.corruptions import register_coco_c

    (name,) = register_coco_c(DATASET, built, ["fog"], [2])
    base = DatasetCatalog.get(DATASET)
    cell = DatasetCatalog.get(name)
    assert [d["sem_seg_file_name"] for d in cell] == [d["sem_seg_file_name"] for d in base]
    assert all(d["file_name"].startswith(str(built)) for d in cell)


def test_the_protocol_chooses_the_cells(capsys):
    from fan_det.build_coco_c import make_parser, parse_args

    parser = make_parser(protocol="fan-city-c")
    args = parse_args(["--out", "x"], parser)
    assert len(args.corruption_list) == 19 and args.severity_list == (1, 2, 3)
    args = parse_args(["--out", "x", "--protocol", "city-c-16", "--severities", "1"], parser)
    assert len(args.corruption_list) == 16 and args.severity_list == (1,)
    assert parse_args(["--out", "x"]).severity_list == (1, 2, 3, 4, 5)  # build_coco_c: benchmark
