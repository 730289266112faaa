"""The author's lesson 6: CartPole learnt from what it draws, not from its four numbers.

Each rendered frame (400 x 600 RGB) is turned grey, shrunk to 160 rows by
240 columns with bicubic interpolation, and thresholded: a pixel that is pure
white (the background) after the resize is 1, every other pixel 0.  The last
four such frames, the newest first, are the state; after a reset all four are
the reset's frame.  Three convolutions read the stack before the Dense layers.

His code prepares a frame with OpenCV (``cvtColor`` to grey, ``resize`` to
``(240, 160)``, that is 240 wide and 160 high, ``INTER_CUBIC``).  OpenCV is
no dependency here: :func:`lesson_frame` computes the same integers in NumPy,
OpenCV's fixed-point grey weights and its bicubic kernel (a = -0.75, source
pixels clamped at the borders, coefficients rounded to 1/2048, the result
rounded once at the end).  ``tests/test_pixels.py`` compares it with OpenCV
on real frames where OpenCV is installed.

His stack is ``channels_first`` (4, 160, 240), which TensorFlow's CPU
convolutions refuse; here the four frames are the last axis, (160, 240, 4),
channel 0 the newest.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

ROWS, COLS = 160, 240  # his ROWS and COLS: cv2.resize takes them as (COLS, ROWS), width first
REM_STEP = 4  # frames in a stack (his name)
# (filters, kernel size, stride) of his three Conv2D layers, each "valid" and ReLU.
CONVOLUTIONS = ((64, 5, 3), (64, 4, 2), (64, 3, 1))

# OpenCV's RGB -> grey in 8 bits: 0.299 R + 0.587 G + 0.114 B in units of 1/2**14, rounded.
_GREY_WEIGHTS = np.array([4899, 9617, 1868], np.int64)
_GREY_BITS = 14
_COEFFICIENT_SCALE = 2048  # OpenCV's INTER_RESIZE_COEF_SCALE: each tap weight as a whole number of 1/2048
_CUBIC_A = -0.75  # OpenCV's bicubic kernel parameter


def grey(rgb: np.ndarray) -> np.ndarray:
    """``cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)`` of a uint8 image: its fixed-point weights and rounding."""
    weighted = rgb.astype(np.int64) @ _GREY_WEIGHTS
    return ((weighted + (1 << (_GREY_BITS - 1))) >> _GREY_BITS).astype(np.uint8)


def _cubic_taps(source: int, target: int) -> tuple[np.ndarray, np.ndarray]:
    """The four source indices and integer weights of each target pixel along one axis, as OpenCV computes them.

    A target pixel's centre maps to ``(d + 0.5) * source / target - 0.5`` in the source; its taps are the
    pixels from one before to two after that position's floor, clamped to the image.
    """
    position = ((np.arange(target) + 0.5) * (source / target) - 0.5).astype(np.float32)
    first = np.floor(position).astype(np.int64)
    x = (position - first).astype(np.float32)
    a = np.float32(_CUBIC_A)
    one = np.float32(1)
    w0 = ((a * (x + one) - 5 * a) * (x + one) + 8 * a) * (x + one) - 4 * a
    w1 = ((a + 2) * x - (a + 3)) * x * x + one
    w2 = ((a + 2) * (one - x) - (a + 3)) * (one - x) * (one - x) + one
    weights = np.stack([w0, w1, w2, one - w0 - w1 - w2], axis=1)
    whole = np.rint(weights * _COEFFICIENT_SCALE).astype(np.int64)  # saturate_cast<short>: to nearest, ties even
    indices = np.clip(first[:, None] + np.arange(-1, 3), 0, source - 1)
    return indices, whole


def resize_cubic(image: np.ndarray, rows: int = ROWS, cols: int = COLS) -> np.ndarray:
    """``cv2.resize(image, (cols, rows), interpolation=cv2.INTER_CUBIC)`` of a 2-D uint8 image.

    Rows first, then columns, in whole numbers; the sum is rounded and clipped to 0..255 once at the end.
    """
    column_taps, column_weights = _cubic_taps(image.shape[1], cols)
    row_taps, row_weights = _cubic_taps(image.shape[0], rows)
    widened = image.astype(np.int64)
    horizontal = np.einsum("rck,ck->rc", widened[:, column_taps], column_weights)
    total = np.einsum("rkc,rk->rc", horizontal[row_taps], row_weights)
    shift = 2 * 11  # two passes of 1/2048 each
    return np.clip((total + (1 << (shift - 1))) >> shift, 0, 255).astype(np.uint8)


def lesson_frame(rgb: np.ndarray) -> np.ndarray:
    """One rendered frame as his ``GetImage`` leaves it: grey, 160 x 240, 1 where pure white, else 0 (float32)."""
    return (resize_cubic(grey(rgb)) == 255).astype(np.float32)


class FrameStack(gym.Wrapper):
    """CartPole seen as the lesson sees it: observations are the last REM_STEP frames, (ROWS, COLS, REM_STEP).

    Wraps an environment made with ``render_mode="rgb_array"``; its own ``render`` still returns the RGB frame,
    so a window (``gym.wrappers.HumanRendering``) can go around it.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (ROWS, COLS, REM_STEP), np.float32)
        self._stack = np.zeros((ROWS, COLS, REM_STEP), np.float32)

    def reset(self, **kwargs):
        _, info = self.env.reset(**kwargs)
        self._stack = np.repeat(self._frame()[..., None], REM_STEP, axis=-1)
        return self._stack, info

    def step(self, action):
        _, reward, terminated, truncated, info = self.env.step(action)
        # A new array each step: a stack handed out earlier (kept by the replay memory) never changes.
        self._stack = np.concatenate([self._frame()[..., None], self._stack[..., :-1]], axis=-1)
        return self._stack, reward, terminated, truncated, info

    def _frame(self) -> np.ndarray:
        rgb = self.env.render()
        if not isinstance(rgb, np.ndarray):
            raise TypeError("FrameStack needs an environment made with render_mode='rgb_array'")
        return lesson_frame(rgb)


def lesson_convolutions(inputs, dtype=None):
    """His three convolutions on a stack of frames, channels last, flattened for the Dense layers.

    As his, they keep Keras's default initializer (glorot_uniform); only his Dense layers are he_uniform.
    ``dtype`` is their Keras dtype policy (None: the default, float32).
    """
    from keras.layers import Conv2D, Flatten

    features = inputs
    for filters, size, stride in CONVOLUTIONS:
        features = Conv2D(filters, size, strides=stride, padding="valid", activation="relu", dtype=dtype)(features)
    return Flatten(dtype=dtype)(features)
