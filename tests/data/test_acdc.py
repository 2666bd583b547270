"""ACDC: check_data --acdc (layout, every image labelled, label values, counts), registration, tiny copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fan_det.check_data import main
from fan_det.data.acdc import acdc_pairs
from fan_det.protocol import ACDC_CONDITIONS


def _acdc(root: Path, per_condition: int = 2, seed: int = 0) -> Path:
    """A small ACDC-layout folder: random RGB images and train-id labels (with 255 regions)."""
    rng = np.random.default_rng(seed)
    for condition in ACDC_CONDITIONS:
        for i in range(per_condition):
            stem = f"GOPR{i:04d}/GOPR{i:04d}_frame_{i:06d}"
            image = root / "rgb_anon" / condition / "val" / f"{stem}_rgb_anon.png"
            label = root / "gt" / condition / "val" / f"{stem}_gt_labelTrainIds.png"
            image.parent.mkdir(parents=True, exist_ok=True)
            label.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)).save(image)
            values = rng.integers(0, 19, (8, 12)).astype(np.uint8)
            values[:2] = 255
            Image.fromarray(values).save(label)
    return root


def run(capsys, *argv: str) -> tuple[int, str]:
    try:
        status = main(list(argv))
    except SystemExit as e:
        status = e.code
    return status, capsys.readouterr().out


def test_a_complete_copy_passes_with_its_own_count(capsys, tmp_path):
    root = _acdc(tmp_path / "acdc")
    status, out = run(capsys, "--acdc", str(root), "--expect-count", "8")
    assert status == 0, out
    assert "acdc: OK" in out and "fog 2, night 2, rain 2, snow 2 validation images" in out


def test_the_official_count_is_406(capsys, tmp_path):
    status, out = run(capsys, "--acdc", str(_acdc(tmp_path / "acdc")))
    assert status == 1 and "8 validation images, expected 406" in out
    status, out = run(capsys, "--tiny", "--acdc", str(_acdc(tmp_path / "acdc")))
    assert status == 0, out


@pytest.mark.parametrize(("damage", "message"), [
    (lambda r: next((r / "gt" / "night").rglob("*.png")).unlink(), "night: 1 image(s) without a"),
    (lambda r: Image.fromarray(np.full((8, 12), 19, np.uint8)).save(
        next((r / "gt" / "rain").rglob("*.png"))), "rain: a label outside the 19 train ids and 255: "),
    (lambda r: [p.unlink() for p in (r / "rgb_anon" / "snow").rglob("*.png")], "snow: no *_rgb_anon.png"),
])
def test_damaged_copies_are_named(capsys, tmp_path, damage, message):
    root = _acdc(tmp_path / "acdc")
    damage(root)
    status, out = run(capsys, "--tiny", "--acdc", str(root))
    assert status == 1 and message in out, out


def test_a_foreign_layout_is_named(capsys, tmp_path):
    (tmp_path / "acdc" / "fog").mkdir(parents=True)
    status, out = run(capsys, "--acdc", str(tmp_path / "acdc"))
    assert status == 1 and "foreign layout: expected rgb_anon/ and gt/" in out


def test_tiny_copy_restyles_images_keeps_labels_and_registers(capsys, tmp_path):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from fan_det.data.acdc import build_tiny_acdc, register_acdc

    source = _acdc(tmp_path / "source", per_condition=3, seed=4)
    images, labels = acdc_pairs(source, "fog")
    records = [{"file_name": str(images[k]), "sem_seg_file_name": str(labels[k])} for k in sorted(images)]
    out = build_tiny_acdc(records, tmp_path / "tiny", version_key="test")
    status, text = run(capsys, "--tiny", "--acdc", str(out))
    assert status == 0, text
    names = register_acdc(out, ["c"] * 19, prefix="tiny_acdc_test")
    try:
        for condition in ACDC_CONDITIONS:
            dicts = DatasetCatalog.get(names[condition])
            assert len(dicts) == 3 and MetadataCatalog.get(names[condition]).ignore_label == 255
            for record, source_record in zip(dicts, records, strict=True):
                assert Path(record["sem_seg_file_name"]).read_bytes() == Path(
                    source_record["sem_seg_file_name"]).read_bytes()
                restyled = np.asarray(Image.open(record["file_name"]), dtype=float)
                original = np.asarray(Image.open(source_record["file_name"]), dtype=float)
                assert restyled.shape == original.shape and np.abs(restyled - original).mean() > 5
    finally:
        for name in names.values():
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)


def test_tiny_copy_is_rebuilt_when_its_source_changes(tmp_path):
    """A source rebuilt under the same names (a new version of a synthetic set) must not leave the old
    restyled images and labels in the cache."""
    from fan_det.data.acdc import IMAGE_SUFFIX, LABEL_SUFFIX, SPLIT, build_tiny_acdc

    source = _acdc(tmp_path / "source", per_condition=2, seed=4)
    images, labels = acdc_pairs(source, "fog")
    records = [{"file_name": str(images[k]), "sem_seg_file_name": str(labels[k])} for k in sorted(images)]
    out = build_tiny_acdc(records, tmp_path / "tiny", version_key="test")
    restyled = out / "rgb_anon" / "fog" / SPLIT / "seq0" / f"frame0000{IMAGE_SUFFIX}"
    before = restyled.read_bytes()
    assert build_tiny_acdc(records, tmp_path / "tiny", version_key="test") == out
    assert restyled.read_bytes() == before  # unchanged source: built once
    label = Path(records[0]["sem_seg_file_name"])
    values = np.asarray(Image.open(label)).copy()
    values[:4] = 255
    Image.fromarray(values).save(label)
    build_tiny_acdc(records, tmp_path / "tiny", version_key="test")
    copied = out / "gt" / "fog" / SPLIT / "seq0" / f"frame0000{LABEL_SUFFIX}"
    assert copied.read_bytes() == label.read_bytes()


def test_registration_refuses_unlabelled_images(tmp_path):
    from fan_det.data.acdc import AcdcLayoutError, register_acdc

    root = _acdc(tmp_path / "acdc")
    next((root / "gt" / "snow").rglob("*.png")).unlink()
    with pytest.raises(AcdcLayoutError, match="1 snow image"):
        register_acdc(root, ["c"] * 19)
