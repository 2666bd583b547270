"""Ready-made ``package.module:callable`` model builders for ``python -m fan_det.eval_ood --model``."""
