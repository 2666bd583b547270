"""Check a dataset folder's layout and image counts in seconds, before hours of evaluation.

Each set given is checked against the layout the evaluation tools read and the official release's
counts (``docs/data.md``) and gets one verdict: ``OK`` or the problems found (missing or unexpected
class folders, counts that differ from the release, a folder laid out some other way). Exit status 0
when every set is OK, 1 when any has a problem, 2 for a usage error.
Class lists come from ``fan_det.ood.synsets`` and ``fan_det.protocol`` (through timm), the folder
scanning is the one ``eval_ood`` uses (``fan_det.ood.image_folders``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fan_det.cli import HelpFormatter, fail
from fan_det.data.acdc import IMAGE_SUFFIX, LABEL_SUFFIX, acdc_pairs
from fan_det.ood.image_folders import (
    IMAGE_EXTENSIONS,
    INDEX_LAYOUT,
    WNID_LAYOUT,
    DatasetLayoutError,
    class_folders,
    detect_layout,
    imagenet_c_cells,
    scan_class_folders,
)
from fan_det.ood.synsets import imagenet_wnids, subset_wnids
from fan_det.protocol import (
    ACDC_CONDITIONS,
    BENCHMARK,
    CITYSCAPES_NUM_CLASSES,
    CLASS_SUBSETS,
    HOLDOUT,
    IGNORE_LABEL,
    SEVERITIES,
)

# Image counts of the official releases (docs/data.md gives the sources).
OFFICIAL_COUNTS: dict[str, int] = {
    "imagenet": 50_000,         # ILSVRC2012 validation set, 50 per class
    "imagenet-a": 7_500,
    "imagenet-r": 30_000,
    "imagenet-sketch": 50_889,
    "imagenet-c": 50_000,       # per corruption and severity
    "imagenet-v2": 10_000,      # per variant, 10 per class
    "coco": 5_000,              # COCO val2017
    "coco-c": 5_000,            # per corruption and severity
    "acdc": 406,                # validation split: 100 fog, 106 night, 100 rain, 100 snow
    "cityscapes": 3_475,        # gtFine train 2,975 + val 500
}
COCO_CATEGORIES = 80
SHOWN = 5  # names listed per problem


def _some(names: Sequence[str]) -> str:
    names = list(names)
    return ", ".join(names[:SHOWN]) + (f" ... (+{len(names) - SHOWN} more)" if len(names) > SHOWN else "")


@dataclass
class Verdict:
    """The outcome for one set: problems make it fail, notes are shown but do not."""

    name: str
    path: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    images: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def check_count(self, found: int, expected: int | None, what: str = "images") -> None:
        """A problem when an expected count is known and ``found`` differs (``what``: how to call them)."""
        if expected is not None and found != expected:
            self.problems.append(f"{found:,} {what}, expected {expected:,}")

    def lines(self) -> list[str]:
        head = f"{self.name}: {'OK' if self.ok else 'PROBLEMS'}  {self.path}"
        head += f"  ({self.summary})" if self.summary else ""
        return [head] + [f"  - {p}" for p in self.problems] + [f"  note: {n}" for n in self.notes]


@dataclass(frozen=True)
class Expectation:
    """What a set should hold; ``images=None``: no count check; ``tiny``: missing classes are fine."""

    images: int | None
    tiny: bool = False


def _images_in(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]


def _foreign_layout(name: str, root: Path, folders: list[Path]) -> str | None:
    """A hint when the folder is laid out some other way than ``root/<class>/<image>``."""
    loose = _images_in(root)
    if loose and not folders:
        fix = ("sort it with python -m fan_det.prepare_imagenet_val" if name == "imagenet"
               else "it needs one sub-folder per class")
        return f"foreign layout: {len(loose)} images lie directly in the folder (a flat folder); {fix}"
    if len(folders) == 1 and detect_layout([folders[0].name]) is None:
        inner = class_folders(folders[0], name)
        if inner and detect_layout([f.name for f in inner]) is not None:
            return (f"foreign layout: the class folders are one level down, in {folders[0]}; "
                    "point at that folder")
    return None


def check_class_folders(name: str, root: str | Path, expect: Expectation) -> Verdict:
    """An ImageFolder tree ``root/<wnid>/`` (ImageNet-V2: also ``root/<class index>/``)."""
    root = Path(root)
    verdict = Verdict(name, str(root))
    if not root.is_dir():
        verdict.problems.append("not a folder")
        return verdict
    folders = class_folders(root, name)
    if not folders and not _images_in(root):
        verdict.problems.append("empty: no class folders and no images")
        return verdict
    hint = _foreign_layout(name, root, folders)
    if hint:
        verdict.problems.append(hint)
        return verdict
    expected = set(subset_wnids(name)) if name in CLASS_SUBSETS else set(imagenet_wnids())
    layouts = (WNID_LAYOUT, INDEX_LAYOUT) if name == "imagenet-v2" else (WNID_LAYOUT,)
    layout = detect_layout([f.name for f in folders]) if INDEX_LAYOUT in layouts else WNID_LAYOUT
    if layout == WNID_LAYOUT:
        unexpected = [f.name for f in folders if f.name not in expected]
        if unexpected:
            verdict.problems.append(f"{len(unexpected)} unexpected folder(s), not among this set's "
                                    f"{len(expected)} class wnids: {_some(unexpected)}")
            return verdict
    try:
        samples, present, layout = scan_class_folders(root, expected, name, layouts)
    except DatasetLayoutError as e:
        verdict.problems.append(f"foreign layout: {e}")
        return verdict
    missing = sorted(expected - set(present))
    verdict.images = len(samples)
    verdict.summary = f"{len(samples):,} images, {len(present)} classes, {layout} folders"
    if missing:
        text = f"{len(missing)} of the {len(expected)} class folders missing or empty: {_some(missing)}"
        (verdict.notes if expect.tiny else verdict.problems).append(text)
    verdict.check_count(len(samples), expect.images)
    return verdict


def check_imagenet_c(root: str | Path, expect: Expectation) -> Verdict:
    """``root/<corruption>/<severity>/<wnid>/``: the 15 x 5 benchmark grid complete, each cell full."""
    root = Path(root)
    verdict = Verdict("imagenet-c", str(root))
    try:
        cells = imagenet_c_cells(root)
    except DatasetLayoutError as e:
        verdict.problems.append(f"foreign layout: {e}")
        return verdict
    present = {(c, s) for c, s, _ in cells}
    missing = [f"{c}/{s}" for c in BENCHMARK for s in SEVERITIES if (c, s) not in present]
    if missing:
        verdict.problems.append(f"{len(missing)} of the 75 benchmark cells missing (mCE needs all): "
                                f"{_some(missing)}")
    holdout = [f"{c}/{s}" for c in HOLDOUT for s in SEVERITIES if (c, s) not in present]
    if len(holdout) < len(HOLDOUT) * len(SEVERITIES):
        if holdout:
            verdict.problems.append(f"holdout grid incomplete, missing {_some(holdout)}")
    else:
        verdict.notes.append("no holdout corruptions (the release's extra set); the 19-corruption mean "
                             "will be absent")
    total, cell_notes = 0, set()
    for corruption, severity, folder in cells:
        cell = check_class_folders("imagenet-c", folder, expect)
        total += cell.images
        verdict.problems += [f"{corruption}/{severity}: {p}" for p in cell.problems]
        cell_notes.update(cell.notes)
    verdict.notes += [f"in some cells: {n}" for n in sorted(cell_notes)[:SHOWN]]
    verdict.summary = f"{len(cells)} cells, {total:,} images"
    return verdict


def _coco_images(annotations: Path, verdict: Verdict) -> list[dict] | None:
    try:
        data = json.loads(annotations.read_text())
    except (OSError, ValueError) as e:
        verdict.problems.append(f"annotations {annotations} unreadable: {e}")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        verdict.problems.append(f"annotations {annotations} is not a COCO instances file (no images list)")
        return None
    categories = data.get("categories") or []
    if len(categories) != COCO_CATEGORIES:
        verdict.notes.append(f"{len(categories)} categories (COCO has {COCO_CATEGORIES})")
    return data["images"]


def check_coco(root: str | Path, annotations: str | Path, expect: Expectation) -> Verdict:
    """COCO val2017 images in ``root`` named as the annotation file's ``file_name`` entries."""
    root, annotations = Path(root), Path(annotations)
    verdict = Verdict("coco", str(root))
    if not root.is_dir():
        verdict.problems.append("not a folder")
        return verdict
    images = _coco_images(annotations, verdict)
    if images is None:
        return verdict
    missing = [im["file_name"] for im in images if not (root / im["file_name"]).is_file()]
    if missing and len(missing) == len(images) and (root / "val2017").is_dir():
        verdict.problems.append(f"foreign layout: no listed image in the folder, but {root / 'val2017'} "
                                "exists; point at that folder")
        return verdict
    if missing:
        verdict.problems.append(f"{len(missing)} image(s) listed in {annotations.name} not in the folder: "
                                f"{_some(missing)}")
    listed = {im["file_name"] for im in images}
    extra = [p.name for p in _images_in(root) if p.name not in listed]
    if extra:
        verdict.notes.append(f"{len(extra)} image(s) in the folder not in the annotations (ignored): "
                             f"{_some(extra)}")
    verdict.summary = f"{len(images):,} images listed, {len(images) - len(missing):,} found"
    verdict.check_count(len(images), expect.images, f"images in {annotations.name}")
    return verdict


def check_coco_c(root: str | Path, expect: Expectation) -> Verdict:
    """A materialised COCO-C (``build_coco_c``): manifest, the 15 x 5 benchmark grid, every file there."""
    from fan_det.corruptions.builder import BuildError, cell_file
    from fan_det.corruptions.manifest import read_manifest

    root = Path(root)
    verdict = Verdict("coco-c", str(root))
    try:
        manifest = read_manifest(root)
    except BuildError as e:
        verdict.problems.append(f"foreign layout: {e}")
        return verdict
    files = [info["file"] for info in manifest["images"].values()]
    cells = sorted({(p.parent.name, int(p.name)) for p in root.glob("*/[1-5]") if p.is_dir()})
    missing_cells = [f"{c}/{s}" for c in BENCHMARK for s in SEVERITIES if (c, s) not in cells]
    if missing_cells:
        verdict.problems.append(f"{len(missing_cells)} of the 75 benchmark cells missing (mPC needs all): "
                                f"{_some(missing_cells)}")
    wanted = [cell_file(c, s, f) for c, s in cells for f in files]
    absent = [rel for rel in wanted if not (root / rel).is_file()]
    if absent:
        verdict.problems.append(f"{len(absent)} file(s) missing: {_some(absent)}; resume the build with "
                                "python -m fan_det.build_coco_c")
    if manifest.get("skipped"):
        verdict.problems.append(f"{len(manifest['skipped'])} source image(s) skipped by the build: "
                                f"{_some(sorted(manifest['skipped']))}")
    verdict.summary = f"{len(cells)} cells x {len(files):,} images"
    verdict.check_count(len(files), expect.images, "images per cell")
    return verdict


def first_bad_label(files: Sequence[Path], num_classes: int = CITYSCAPES_NUM_CLASSES) -> str | None:
    """``"<file>: value v"`` for the first label file holding a value that is neither a train id nor 255."""
    import numpy as np
    from PIL import Image

    for path in files:
        values = np.unique(np.asarray(Image.open(path)))
        bad = values[(values >= num_classes) & (values != IGNORE_LABEL)]
        if bad.size:
            return f"{path}: value {int(bad[0])}"
    return None


def check_acdc(root: str | Path, expect: Expectation) -> Verdict:
    """ACDC's validation split: every condition's images, each with its train-id label file in range."""
    root = Path(root)
    verdict = Verdict("acdc", str(root))
    if not (root / "rgb_anon").is_dir() or not (root / "gt").is_dir():
        verdict.problems.append("foreign layout: expected rgb_anon/ and gt/ (the two release archives "
                                "extracted into one folder)")
        return verdict
    counts: dict[str, int] = {}
    for condition in ACDC_CONDITIONS:
        images, labels = acdc_pairs(root, condition)
        if not images:
            verdict.problems.append(f"{condition}: no *{IMAGE_SUFFIX} under rgb_anon/{condition}/val")
            continue
        unlabelled, orphans = sorted(set(images) - set(labels)), sorted(set(labels) - set(images))
        if unlabelled:
            verdict.problems.append(f"{condition}: {len(unlabelled)} image(s) without a *{LABEL_SUFFIX} "
                                    f"file: {_some(unlabelled)}")
        if orphans:
            verdict.notes.append(f"{condition}: {len(orphans)} label file(s) without an image: "
                                 f"{_some(orphans)}")
        bad = first_bad_label([labels[k] for k in sorted(set(images) & set(labels))])
        if bad:
            verdict.problems.append(f"{condition}: a label outside the {CITYSCAPES_NUM_CLASSES} train ids "
                                    f"and {IGNORE_LABEL}: {bad}")
        counts[condition] = len(images)
    verdict.images = sum(counts.values())
    verdict.summary = ", ".join(f"{c} {n}" for c, n in counts.items()) + " validation images"
    verdict.check_count(verdict.images, expect.images, "validation images")
    return verdict


def check_cityscapes(root: str | Path, expect: Expectation) -> Verdict:
    """A Cityscapes root for semantic segmentation: train and val images, and beside each the
    ``*_gtFine_labelTrainIds.png`` detectron2 reads (made by cityscapesscripts)."""
    from fan_det.segmentation.data import CITYSCAPES_SPLITS, cityscapes_label_problems

    verdict = Verdict("cityscapes", str(root))
    official = expect.images == OFFICIAL_COUNTS["cityscapes"]
    per_split = {s: (n if official else expect.images) for s, n in CITYSCAPES_SPLITS.items()}
    verdict.problems, verdict.images = cityscapes_label_problems(root, per_split)
    verdict.summary = f"{verdict.images:,} train + val images"
    return verdict


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fan_det.check_data", formatter_class=HelpFormatter,
        description="Check dataset folders' layout and image counts against the official releases "
                    "(docs/data.md) before a long evaluation. Exit status: 0 all OK, 1 a problem found, "
                    "2 usage error.",
        epilog="examples:\n"
               "  # the tiny sets the tests use: layout checked, counts and missing classes not\n"
               "  python -c \"from fan_det.data.ood_sets import build_ood_sets; build_ood_sets()\"\n"
               "  python -m fan_det.check_data --tiny --imagenet-a .cache/datasets/ood/imagenet-a \\\n"
               "      --imagenet-v2 .cache/datasets/ood/imagenet-v2\n"
               "  # real data, against the official counts\n"
               "  python -m fan_det.check_data --imagenet /data/imagenet/val \\\n"
               "      --imagenet-a /data/imagenet-a --coco /data/coco/val2017 \\\n"
               "      --coco-annotations /data/coco/annotations/instances_val2017.json\n"
               "  # a Cityscapes root for semantic segmentation (2,975 train / 500 val, labelTrainIds)\n"
               "  python -m fan_det.check_data --cityscapes /data/cityscapes")
    sets = parser.add_argument_group("sets to check (at least one)")
    sets.add_argument("--imagenet", metavar="DIR", help="ImageNet val sorted into wnid folders")
    sets.add_argument("--imagenet-a", metavar="DIR", help="ImageNet-A (200 wnid folders)")
    sets.add_argument("--imagenet-r", metavar="DIR", help="ImageNet-R (200 wnid folders)")
    sets.add_argument("--imagenet-sketch", metavar="DIR", help="ImageNet-Sketch (the sketch/ folder)")
    sets.add_argument("--imagenet-c", metavar="DIR", help="ImageNet-C: <corruption>/<severity>/<wnid>/")
    sets.add_argument("--imagenet-v2", metavar="DIR", help="one ImageNet-V2 variant (class-index folders)")
    sets.add_argument("--coco", metavar="DIR", help="COCO val2017 images (with --coco-annotations)")
    sets.add_argument("--coco-annotations", metavar="FILE", help="COCO instances json of --coco")
    sets.add_argument("--coco-c", metavar="DIR", help="a COCO-C built by python -m fan_det.build_coco_c")
    sets.add_argument("--acdc", metavar="DIR", help="ACDC (rgb_anon/ and gt/ of the release): the val split")
    sets.add_argument("--cityscapes", metavar="DIR",
                      help="a Cityscapes root (leftImg8bit/, gtFine/ with the labelTrainIds files)")
    parser.add_argument("--expect-count", type=int, default=None, metavar="N",
                        help="expected images per set (per cell for -C sets, over the four conditions "
                             "for ACDC) instead of the official count")
    parser.add_argument("--tiny", action="store_true",
                        help="a small copy: check the layout, not the counts or missing classes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    folder_sets = [("imagenet", args.imagenet), ("imagenet-a", args.imagenet_a),
                   ("imagenet-r", args.imagenet_r), ("imagenet-sketch", args.imagenet_sketch),
                   ("imagenet-v2", args.imagenet_v2)]
    if not any(path for _, path in folder_sets) and not (args.imagenet_c or args.coco or args.coco_c
                                                         or args.acdc or args.cityscapes):
        fail("name at least one set to check, e.g. --imagenet-a DIR (see --help)")
    if bool(args.coco) != bool(args.coco_annotations):
        fail("--coco and --coco-annotations go together: the folder of val2017 images and its json")
    if args.expect_count is not None and args.expect_count < 0:
        fail("--expect-count must be 0 or more")

    def expect(name: str) -> Expectation:
        count = args.expect_count if args.expect_count is not None else OFFICIAL_COUNTS[name]
        return Expectation(None if args.tiny and args.expect_count is None else count, args.tiny)

    checks: list[Callable[[], Verdict]] = [
        (lambda n=name, p=path: check_class_folders(n, p, expect(n))) for name, path in folder_sets if path]
    if args.imagenet_c:
        checks.append(lambda: check_imagenet_c(args.imagenet_c, expect("imagenet-c")))
    if args.coco:
        checks.append(lambda: check_coco(args.coco, args.coco_annotations, expect("coco")))
    if args.coco_c:
        checks.append(lambda: check_coco_c(args.coco_c, expect("coco-c")))
    if args.acdc:
        checks.append(lambda: check_acdc(args.acdc, expect("acdc")))
    if args.cityscapes:
        checks.append(lambda: check_cityscapes(args.cityscapes, expect("cityscapes")))
    verdicts = [check() for check in checks]
    for verdict in verdicts:
        print("\n".join(verdict.lines()))
    bad = [v.name for v in verdicts if not v.ok]
    print(f"{len(verdicts) - len(bad)} of {len(verdicts)} set(s) OK" + (f"; problems in {', '.join(bad)}"
                                                                         if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
