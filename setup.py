"""fan_det's packages, plus ``eval/`` installed as the data package ``fan_det.eval``.

Everything else is in ``pyproject.toml``; this file exists because a package mapped to another folder
(``[tool.setuptools.package-dir]``) cannot join an automatic package search there.
"""

from setuptools import find_packages, setup

EVAL = ["fan_det.eval", "fan_det.eval.reference", "fan_det.eval.reference.timm_results"]

setup(packages=[*find_packages(include=["fan_det", "fan_det.*"]), *EVAL])
