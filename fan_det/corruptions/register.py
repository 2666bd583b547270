"""Register materialised COCO-C cells with detectron2: ``<base>_<corruption>_<severity>``.

Each cell is the base dataset's dicts (same image ids, same ground truth) with ``file_name`` pointing at
the corrupted file (found by the image's ``image_key``, as the manifest records it); the metadata is the
base's (so COCOEvaluator finds the same ground truth) plus ``corruption`` and ``severity``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from fan_det.corruptions.builder import MANIFEST, cell_file
from fan_det.data.identity import dataset_root, image_key

logger = logging.getLogger(__name__)


def _cell_loader(base_dataset: str, root: Path, files: dict[str, str], corruption: str, severity: int,
                 allow_missing: bool):
    def load() -> list[dict]:
        from detectron2.data import DatasetCatalog

        dicts, dropped = [], []
        key_root = dataset_root(base_dataset)
        for d in DatasetCatalog.get(base_dataset):
            rel = files.get(str(image_key(d, key_root)))
            if rel is None:
                dropped.append(d["file_name"])
                continue
            dicts.append({**d, "file_name": str(root / rel)})
        if dropped and not allow_missing:
            raise FileNotFoundError(f"{len(dropped)} images of {base_dataset} are not built in "
                                    f"{root}/{corruption}/{severity}, e.g. {dropped[0]}")
        if dropped:
            logger.warning("%s_%s_%s: %d images not built, left out", base_dataset, corruption, severity,
                           len(dropped))
        return dicts

    return load


def register_coco_c(base_dataset: str, root: Path, corruptions: Iterable[str] | None = None,
                    severities: Iterable[int] | None = None, *, allow_missing: bool = False) -> list[str]:
    """Register each built cell under ``root`` (default: every cell in the manifest); returns the names.

    Idempotent; registering a cell again (from another folder, say) replaces the earlier registration.
    A cell missing some images is refused when its dicts are loaded, unless ``allow_missing``,
    which leaves those images out (and logs how many).
    """
    from detectron2.data import DatasetCatalog, MetadataCatalog

    root = Path(root)
    manifest_path = root / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"no {MANIFEST} in {root}: build it with python -m fan_det.build_coco_c")
    manifest = json.loads(manifest_path.read_text())
    built = {tuple(rel.split("/", 2)[:2]) for rel in manifest["files"]}
    wanted = [(c, int(s)) for c, s in sorted(built)] if corruptions is None else \
        [(c, s) for c in corruptions for s in (severities or (1, 2, 3, 4, 5))]
    base_meta = {k: v for k, v in MetadataCatalog.get(base_dataset).as_dict().items() if k != "name"}
    names = []
    for corruption, severity in wanted:
        if (corruption, str(severity)) not in built:
            raise FileNotFoundError(f"cell {corruption}/{severity} is not built in {root}")
        files = {key: cell_file(corruption, severity, info["file"])
                 for key, info in manifest["images"].items()
                 if cell_file(corruption, severity, info["file"]) in manifest["files"]}
        name = f"{base_dataset}_{corruption}_{severity}"
        if name in DatasetCatalog.list():  # registered before, maybe from another folder: this one wins
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)
        DatasetCatalog.register(name, _cell_loader(base_dataset, root, files, corruption, severity,
                                                   allow_missing))
        MetadataCatalog.get(name).set(**base_meta, corruption=corruption, severity=severity,
                                      coco_c_root=str(root))
        names.append(name)
    return names
