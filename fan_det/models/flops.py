"""Counting FAN's flops with fvcore: a handle for fused attention, which fvcore leaves uncounted.

fvcore's `FlopCountAnalysis` (and detectron2's, built on it) counts matmuls, convolutions and einsums,
but has no handle for `aten::scaled_dot_product_attention`: FAN's token mixing and timm's class attention
run through it, so without this handle their attention products count as zero (and are only listed in
`unsupported_ops()`). Usage::

    analysis = FlopCountAnalysis(model, inputs).set_op_handle(SDPA_OP, sdpa_flop_jit)
"""

import math
from typing import Any

from fvcore.nn.jit_handles import get_shape

__all__ = ["SDPA_OP", "sdpa_flop_jit"]

SDPA_OP = "aten::scaled_dot_product_attention"


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """Flops of attention(q, k, v) as the two matmuls it replaces, q @ k^T and weights @ v.

    q (..., L, E), k (..., S, E), v (..., S, Ev): L * S * (E + Ev) per leading index, one multiply-add
    counted as one flop (fvcore's convention for matmuls); softmax and scaling are not counted, as fvcore
    does not count them on the explicit path either.
    """
    q, k, v = (get_shape(value) for value in inputs[:3])
    return math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])
