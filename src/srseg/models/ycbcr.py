"""Colour for luma-only SR networks: the SR luma recombined with the bicubic image's chroma, as a Keras layer.

DCSCN (like SRCNN and VDSR) super-resolves Y only. The RGB image is the bicubic ×s image moved along the luma
axis until its BT.601 luma equals the network's, which keeps its Cb/Cr:

    RGB = RGB_bic + (Y_sr − Y(RGB_bic)) · 255/219,   Y(RGB) = 16 + (65.481 R + 128.553 G + 24.966 B)/255

(adding c to R, G and B adds c·219/255 to Y). As a layer it lets a loss on the RGB image (a segmentation loss)
reach the SR network's weights; :class:`srseg.sr.infer.Upscaler` uses the same layer for inference.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from srseg.metrics.sr import Y_WEIGHTS

LUMA_GAIN = 255.0 / 219.0


@keras.saving.register_keras_serializable(package="srseg")
class LumaToRGB(keras.layers.Layer):
    """``[y_sr (N, H, W, 1), rgb_bicubic (N, H, W, 3)] → rgb (N, H, W, 3)`` float32 on 0..255, unclipped.

    The bicubic luma is computed in float64 like :func:`srseg.metrics.sr.rgb_to_y`, so the layer reproduces the
    numpy recombination to the bit before rounding.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, inputs: list[Any]) -> Any:
        y_sr, rgb = inputs
        rgb = tf.cast(rgb, tf.float32)
        y_bic = tf.cast(16.0 + tf.tensordot(tf.cast(rgb, tf.float64), tf.constant(Y_WEIGHTS, tf.float64), 1),
                        tf.float32)
        return rgb + (tf.cast(y_sr, tf.float32)[..., 0] - y_bic)[..., None] * np.float32(LUMA_GAIN)

    def compute_output_shape(self, shapes: list[tuple]) -> tuple:
        return shapes[1]
