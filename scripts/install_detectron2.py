"""Install detectron2 into the running interpreter, the best way this machine allows.

detectron2 is not on PyPI. In order we try: an existing install; upstream from git (what a user with
internet gets, with its compiled ops); the pure-Python repackaging of upstream's 0.7 wheel from PyPI
(`sal-detectron2`, its compiled `_C` removed, re-tagged for any Python 3). fan_det uses no operator that
needs `_C`. Prints which one it used.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile

UPSTREAM = "git+https://github.com/facebookresearch/detectron2.git"
FALLBACK = "sal-detectron2==0.7.2"


def _pip(*args: str, quiet: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", *args] + (["-q"] if quiet else [])
    return subprocess.run(cmd, capture_output=True, text=True)


def existing() -> str | None:
    probe = "import detectron2, os; print(detectron2.__version__, os.path.dirname(detectron2.__file__))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def install_upstream() -> bool:
    if os.environ.get("FAN_DET_SKIP_GIT_DETECTRON2"):
        return False
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", UPSTREAM]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def install_fallback() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        got = _pip("download", "--no-deps", "--only-binary=:all:", "--python-version", "3.10",
                   "--implementation", "cp", "--platform", "any", FALLBACK, "-d", tmp)
        wheels = glob.glob(os.path.join(tmp, "*.whl"))
        if got.returncode != 0 or not wheels:
            sys.exit(f"could not download {FALLBACK}:\n{got.stderr}")
        unpacked = os.path.join(tmp, "unpacked")
        subprocess.run([sys.executable, "-m", "wheel", "unpack", wheels[0], "-d", unpacked], check=True,
                       capture_output=True)
        (root,) = glob.glob(os.path.join(unpacked, "*"))
        for so in glob.glob(os.path.join(root, "detectron2", "_C*.so")):
            os.remove(so)
        (wheel_file,) = glob.glob(os.path.join(root, "*.dist-info", "WHEEL"))
        lines = [ln for ln in open(wheel_file).read().splitlines()
                 if ln.strip() and not ln.startswith(("Tag:", "Root-Is-Purelib:"))]
        lines += ["Root-Is-Purelib: true", "Tag: py3-none-any"]
        with open(wheel_file, "w") as f:
            f.write("\n".join(lines) + "\n")
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        subprocess.run([sys.executable, "-m", "wheel", "pack", root, "-d", out], check=True)
        (packed,) = glob.glob(os.path.join(out, "*.whl"))
        res = _pip("install", "--no-deps", packed)
        if res.returncode != 0:
            sys.exit(f"could not install the repackaged detectron2:\n{res.stderr}")


def main() -> None:
    found = existing()
    if found:
        print(f"detectron2: using the existing install ({found})")
        return
    if install_upstream():
        print(f"detectron2: installed upstream from git ({existing()})")
        return
    install_fallback()
    found = existing()
    if not found:
        sys.exit("detectron2: the PyPI fallback installed but does not import")
    print(f"detectron2: installed the pure-Python PyPI fallback {FALLBACK} without compiled ops ({found})")


if __name__ == "__main__":
    main()
