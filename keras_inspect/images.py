"""Feature maps of image models as pictures for TensorBoard's Images tab.

A convolutional layer's output for one sample is an (H, W, C) stack of maps; :func:`mosaic`
lays its channels out side by side in a grid, each scaled to its own range (a dark channel is
one that responds weakly everywhere, not one whose values happen to be small). Pure functions
of arrays; the PNG encoding is in :mod:`keras_inspect.writer`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["is_image_map", "mosaic", "picture", "to_uint8"]

_GAP = 1  # pixels between channels, drawn at mid grey


def is_image_map(value: np.ndarray) -> bool:
    """Whether one sample's map is an (H, W, C) picture: two spatial axes of 2+ pixels."""
    shape = np.shape(value)
    return len(shape) == 3 and shape[0] >= 2 and shape[1] >= 2


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Min-max scales an array to 0..255 (a constant array becomes 0); NaN becomes 0."""
    image = np.nan_to_num(np.asarray(image, dtype=np.float64))
    low, high = image.min(), image.max()
    if high <= low:
        return np.zeros(image.shape, np.uint8)
    return np.round((image - low) / (high - low) * 255).astype(np.uint8)


def picture(value: np.ndarray) -> np.ndarray:
    """A model input (H, W, C) as a picture: grey for 1 channel, colour for 3, else a mosaic."""
    value = np.asarray(value)
    if is_image_map(value) and value.shape[2] in (1, 3):
        scaled = to_uint8(value)
        return scaled[..., 0] if value.shape[2] == 1 else scaled
    return mosaic(value)


def mosaic(value: np.ndarray) -> np.ndarray:
    """An (H, W, C) map as one grey picture: channels in a near-square grid, row by row."""
    value = np.asarray(value)
    if not is_image_map(value):
        raise ValueError(f"need one sample's (H, W, C) map, got shape {value.shape}")
    height, width, channels = value.shape
    columns = math.ceil(math.sqrt(channels))
    rows = math.ceil(channels / columns)
    out = np.full(
        (rows * height + (rows - 1) * _GAP, columns * width + (columns - 1) * _GAP), 128, np.uint8
    )
    for c in range(channels):
        top = (c // columns) * (height + _GAP)
        left = (c % columns) * (width + _GAP)
        out[top : top + height, left : left + width] = to_uint8(value[..., c])
    return out
