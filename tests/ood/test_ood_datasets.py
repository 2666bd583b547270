"""Class folders land on timm's 1k indices; bad layouts are named; odd and broken images are handled."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import timm
from ood_helpers import TinyClassifier
from PIL import Image

from fan_det.ood.evaluate import UnreadableImageError, evaluate
from fan_det.ood.image_folders import ClassImageFolder, DatasetLayoutError, imagenet_c_cells, load_rgb
from fan_det.ood.preprocess import build_transform
from fan_det.ood.synsets import imagenet_wnids, subset_indices, subset_wnids

INFO = Path(timm.__file__).parent / "data" / "_info"
SMALL = {"input_size": [3, 32, 32], "crop_pct": 1.0, "interpolation": "bilinear", "mean": [0.5] * 3,
         "std": [0.5] * 3, "crop_mode": "center"}


def _lines(name):
    return (INFO / name).read_text().split()


def _image(path: Path, mode: str = "RGB", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    img = Image.fromarray(arr).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


@pytest.mark.parametrize("name,prefix", [("imagenet-a", "imagenet_a"), ("imagenet-r", "imagenet_r")])
def test_subset_masks_equal_timm_files(name, prefix):
    # the lists come through timm.data.ImageNetInfo now; these are the files they were read from before
    assert subset_indices(name).tolist() == [int(x) for x in _lines(f"{prefix}_indices.txt")]
    assert list(subset_wnids(name)) == _lines(f"{prefix}_synsets.txt")
    assert [imagenet_wnids()[i] for i in subset_indices(name)] == list(subset_wnids(name))
    assert list(imagenet_wnids()) == _lines("imagenet_synsets.txt")


def test_wnid_folder_lands_on_its_1k_index(tmp_path):
    wnids = _lines("imagenet_synsets.txt")
    for k in (0, 417, 999):
        _image(tmp_path / wnids[k] / f"img{k}.jpg", seed=k)
    (tmp_path / "README.txt").write_text("ignored")
    (tmp_path / ".hidden").mkdir()
    ds = ClassImageFolder(tmp_path)
    assert [t for _, t in ds.samples] == [0, 417, 999]
    assert ds.classes_present == [wnids[0], wnids[417], wnids[999]]


def test_tiny_sets_targets_match_the_foolbox_file_names(ood_sets):
    for name, root in ood_sets.items():
        allowed = subset_wnids(name) if name in ("imagenet-a", "imagenet-r") else None
        ds = ClassImageFolder(root, allowed=allowed, layouts=("wnid", "index"))
        # foolbox names its photos imagenet_<nn>_<1k index>.jpg
        assert [t for _, t in ds.samples] == [int(Path(p).stem.split("_")[2]) for p, _ in ds.samples]


def test_unknown_folder_is_an_error_naming_it(tmp_path):
    _image(tmp_path / "n01440764" / "a.jpg")
    _image(tmp_path / "cats" / "b.jpg")
    with pytest.raises(DatasetLayoutError, match="cats"):
        ClassImageFolder(tmp_path)


def test_folder_outside_the_200_classes_is_an_error(tmp_path):
    outside = next(w for w in imagenet_wnids() if w not in set(subset_wnids("imagenet-a")))
    _image(tmp_path / outside / "a.jpg")
    with pytest.raises(DatasetLayoutError, match=outside):
        ClassImageFolder(tmp_path, allowed=subset_wnids("imagenet-a"), dataset="imagenet-a")


@pytest.mark.parametrize("mode,ext", [("L", ".jpg"), ("CMYK", ".jpg"), ("P", ".png"), ("RGBA", ".png")])
def test_any_mode_becomes_rgb(tmp_path, mode, ext):
    img = load_rgb(_image(tmp_path / f"x{ext}", mode))
    assert img.mode == "RGB" and img.size == (50, 40)


def test_unreadable_image_is_skipped_and_counted_or_refused(tmp_path):
    wnid = imagenet_wnids()[3]
    for i in range(3):
        _image(tmp_path / wnid / f"ok{i}.png", seed=i)
    broken = tmp_path / wnid / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    ds = ClassImageFolder(tmp_path, build_transform(SMALL))
    out = evaluate(TinyClassifier(), ds, batch_size=2, workers=0)
    assert out.num_images == 3 and [p for p, _ in out.skipped] == [str(broken)]
    good = [i for i, (p, _) in enumerate(ds.samples) if p != str(broken)]
    assert sorted(out.arrays["index"].tolist()) == good
    with pytest.raises(UnreadableImageError, match="broken.jpg"):
        evaluate(TinyClassifier(), ds, batch_size=2, workers=0, strict=True)


def test_imagenet_c_layout(tmp_path):
    wnid = imagenet_wnids()[0]
    cells = [("fog", 1), ("fog", 5), ("speckle_noise", 2)]
    for c, s in cells:
        _image(tmp_path / c / str(s) / wnid / "a.png")
    assert [(c, s) for c, s, _ in imagenet_c_cells(tmp_path)] == cells
    _image(tmp_path / "fog" / "6" / wnid / "a.png")
    with pytest.raises(DatasetLayoutError, match="severity"):
        imagenet_c_cells(tmp_path)
    shutil.rmtree(tmp_path / "fog" / "6")
    _image(tmp_path / "rain" / "1" / wnid / "a.png")
    with pytest.raises(DatasetLayoutError, match="rain"):
        imagenet_c_cells(tmp_path)


def _outcomes_by_file(ds, model):
    out = evaluate(model, ds, batch_size=4, workers=0)
    a = out.arrays
    return {Path(ds.samples[i][0]).name: (int(t), bool(one), bool(five))
            for i, t, one, five in zip(a["index"], a["target"], a["top1"], a["top5"], strict=True)}


def test_v2_index_layout_equals_the_wnid_layout_of_the_same_photos(ood_sets):
    index_names = sorted(p.name for p in ood_sets["imagenet-v2"].iterdir() if p.is_dir())
    assert index_names != sorted(index_names, key=int)  # "99" sorts after "949": the sorted-name trap is live
    v2 = ClassImageFolder(ood_sets["imagenet-v2"], build_transform(SMALL), layouts=("wnid", "index"))
    val = ClassImageFolder(ood_sets["imagenet"], build_transform(SMALL), layouts=("wnid", "index"))
    assert (v2.layout, val.layout) == ("index", "wnid")
    # foolbox names its photos imagenet_<nn>_<1k index>.jpg: the folder number is the target itself
    assert [t for _, t in v2.samples] == [int(Path(p).stem.split("_")[2]) for p, _ in v2.samples]
    model = TinyClassifier(seed=3)
    assert _outcomes_by_file(v2, model) == _outcomes_by_file(val, model)


@pytest.mark.parametrize("names,shown", [(["0", "n01440764"], "'n01440764'"), (["7", "1000"], "'1000'"),
                                         (["007", "12"], "'007'"), (["cats", "dogs"], "'cats'")])
def test_v2_folder_of_neither_layout_is_refused(tmp_path, names, shown):
    for i, name in enumerate(names):
        _image(tmp_path / name / "a.png", seed=i)
    with pytest.raises(DatasetLayoutError, match=f"neither all class indices 0..999.*{shown}"):
        ClassImageFolder(tmp_path, layouts=("wnid", "index"), dataset="imagenet-v2")
    with pytest.raises(DatasetLayoutError, match="not an ImageNet-1k wnid"):
        ClassImageFolder(tmp_path, dataset="imagenet")  # index folders are only a layout of ImageNet-V2
