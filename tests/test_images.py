"""Pictures of feature maps: the channel mosaic against a loop, and the PNGs TensorBoard reads."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from tensorboard import context
from tensorboard.backend.event_processing import data_provider as provider_lib
from tensorboard.backend.event_processing import plugin_event_multiplexer as multiplexer_lib

from keras_inspect import images
from keras_inspect.writer import InspectWriter


def test_to_uint8_scales_to_the_full_range():
    np.testing.assert_array_equal(images.to_uint8(np.array([2.0, 3.0, 4.0])), [0, 128, 255])
    np.testing.assert_array_equal(images.to_uint8(np.full(3, 7.0)), [0, 0, 0])


def test_mosaic_puts_each_scaled_channel_in_its_grid_cell():
    rng = np.random.default_rng(0)
    value = rng.normal(size=(3, 4, 5))  # 5 channels -> a 3 x 2 grid (3 columns)
    out = images.mosaic(value)
    assert out.shape == (2 * 3 + 1, 3 * 4 + 2) and out.dtype == np.uint8
    for c in range(5):
        top, left = (c // 3) * 4, (c % 3) * 5
        np.testing.assert_array_equal(
            out[top : top + 3, left : left + 4], images.to_uint8(value[..., c])
        )
    assert (out[3, :] == 128).all()  # the gap between rows
    assert (out[4:, 10:] == 128).all()  # the empty sixth cell
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        images.mosaic(np.ones((4, 3)))


def test_pictures_keep_grey_and_colour_inputs():
    grey = np.linspace(0, 1, 12).reshape(3, 4, 1)
    assert images.picture(grey).shape == (3, 4)
    colour = np.random.default_rng(1).random((3, 4, 3))
    assert images.picture(colour).shape == (3, 4, 3)
    assert images.picture(np.ones((3, 4, 2))).shape == (3, 9)  # two channels: a mosaic


def test_written_images_read_back_through_tensorboards_data_provider(tmp_path):
    first = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    second = np.random.default_rng(2).integers(0, 256, (3, 4, 3)).astype(np.uint8)
    with InspectWriter(tmp_path / "run") as writer:
        writer.write_images(0, "feature maps/train/conv", [first, second])
        with pytest.raises(ValueError, match="uint8"):
            writer.write_images(1, "feature maps/train/conv", [first.astype(np.float32)])
    mux = multiplexer_lib.EventMultiplexer(tensor_size_guidance={"images": 0})
    mux.AddRunsFromDirectory(str(tmp_path))
    mux.Reload()
    provider = provider_lib.MultiplexerDataProvider(mux, str(tmp_path))
    ctx = context.RequestContext()
    data = provider.read_blob_sequences(ctx, experiment_id="", plugin_name="images", downsample=10)
    (point,) = data["run/inspect"]["feature maps/train/conv"]
    blobs = [provider.read_blob(ctx, blob_key=v.blob_key) for v in point.values]
    assert blobs[:2] == [b"4", b"3"]  # width, height
    decoded = [np.asarray(Image.open(io.BytesIO(b))) for b in blobs[2:]]
    np.testing.assert_array_equal(decoded[0], first)
    np.testing.assert_array_equal(decoded[1], second)
