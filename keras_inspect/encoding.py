"""How a value becomes a TensorBoard tensor: dtypes and data classes the two loaders accept.

Encoding, chosen for what TensorBoard's two loaders accept and for size:

========================================  ==========  ===================
value                                      dtype       data class
========================================  ==========  ===================
Python/NumPy number or 0-d array          float32     ``DATA_CLASS_SCALAR``
1-D float array (per-unit values)         float32     ``DATA_CLASS_TENSOR``
float array with ndim >= 2 (matrices)     float16     ``DATA_CLASS_TENSOR``
integer or bool array                     int32       ``DATA_CLASS_TENSOR``
========================================  ==========  ===================

Arrays of more than :data:`tb_plugin.metadata.PART_MIN_SIZE` numbers are written in parts of
up to :data:`~tb_plugin.metadata.PART_POINTS` checkpoints (and
:data:`~tb_plugin.metadata.PART_NUMBERS` numbers), one tag per part, so that the plugin can
read one old checkpoint of a big matrix without reading all of them.

float16 halves the bytes of matrices and histograms, which keeps a checkpoint near the ~1 MiB
budget of the spec; an array with a value beyond float16's range (65504) is stored as float32
instead of turning into inf. Scalars are float32 because the Rust data server drops float64
scalar series.
"""

from __future__ import annotations

import numpy as np
from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.util.tensor_util import make_tensor_proto

__all__ = ["encode", "png", "size"]

_FLOAT16_MAX = float(np.finfo(np.float16).max)
_INT32 = np.iinfo(np.int32)


def size(tensor: tensor_pb2.TensorProto) -> int:
    """Numbers in a tensor (1 for a scalar)."""
    return int(np.prod([d.size for d in tensor.tensor_shape.dim], dtype=np.int64))


def encode(value: object, where: str) -> tuple[tensor_pb2.TensorProto, int]:
    """Converts a value to a TensorProto and its data class (see the module docstring)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Value for {where} is not numeric: {error}") from None
    kind = array.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"Value for {where} must be a number or an array of numbers; got dtype {array.dtype}."
        )
    if array.ndim == 0:
        stored = _finite_float(array, np.float32, where)
        return make_tensor_proto(stored), summary_pb2.DATA_CLASS_SCALAR
    if kind in "biu":
        if array.size and (array.min() < _INT32.min or array.max() > _INT32.max):
            raise ValueError(f"Integer value for {where} does not fit in int32.")
        return make_tensor_proto(array.astype(np.int32)), summary_pb2.DATA_CLASS_TENSOR
    stored = _finite_float(array, np.float32, where)
    if array.ndim >= 2 and (not stored.size or np.abs(stored).max() <= _FLOAT16_MAX):
        return _float16_proto(stored), summary_pb2.DATA_CLASS_TENSOR
    return make_tensor_proto(stored), summary_pb2.DATA_CLASS_TENSOR


def _float16_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    # make_tensor_proto puts float16 into the varint field half_val (up to 3 bytes per element);
    # tensor_content holds the raw 2 bytes, and make_ndarray reads it back.
    shape = tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in array.shape]
    )
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_HALF,
        tensor_shape=shape,
        tensor_content=array.astype("<f2").tobytes(),
    )


def _finite_float(array: np.ndarray, dtype: type[np.floating], where: str) -> np.ndarray:
    if not np.isfinite(array).all():
        raise ValueError(
            f"Value for {where} contains NaN or Inf; non-finite values are never written "
            f"(skip or count them instead)."
        )
    # A finite float64 beyond float32's range would become inf after the cast.
    with np.errstate(over="ignore"):
        stored = array.astype(dtype)
    if not np.isfinite(stored).all():
        raise ValueError(f"Value for {where} exceeds the float32 range.")
    return stored


def png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 (H, W) or (H, W, 3) array (Pillow, which TensorBoard requires)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()
