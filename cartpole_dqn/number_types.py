"""The numbers flags take: whole or real, finite, in range, checked once.

Each :class:`WholeNumber` or :class:`RealNumber` is both an argparse
``type`` (it reads the flag's text, so a bad value stops the command line
before TensorFlow loads) and a check for values given from Python
(``Hyperparameters.validated``, ``Evaluator``).  The message reads after the
flag's name: ``--episodes must be a positive whole number, got 0``.
"""

from __future__ import annotations

import argparse
import math
import numbers
import sys
from collections.abc import Callable

from cartpole_dqn.errors import UserError

# keras.utils.set_random_seed seeds NumPy's legacy generator, which takes
# 0 <= seed < 2**32 (gymnasium's reset takes any seed >= 0).
MAX_SEED = 2**32 - 1


class _NumberType:
    """An argparse type: parse the text, then ``check`` the number."""

    parse: Callable[[str], float]  # int or float
    __name__ = "number"  # argparse names the type in some of its messages

    def requirement(self) -> str:
        raise NotImplementedError

    def check(self, value: object) -> numbers.Real:
        raise NotImplementedError

    def __call__(self, text: str):
        try:
            value = self.parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {self.requirement()}, got {_shown(text)}") from None
        try:
            return self.check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).replace(f"got {value!r}", f"got {_shown(text)}")) from None


class WholeNumber(_NumberType):
    """A whole number from ``minimum`` to ``maximum``.

    The default maximum is the largest size Python's containers take
    (``deque(maxlen=...)`` overflows above it).
    """

    parse = int

    def __init__(self, minimum: int = 1, maximum: int = sys.maxsize, description: str | None = None):
        self.minimum, self.maximum, self.description = minimum, maximum, description

    def requirement(self) -> str:
        if self.description:
            return self.description
        if self.maximum != sys.maxsize:
            return f"a whole number from {self.minimum} to {self.maximum}"
        if self.minimum == 1:
            return "a positive whole number"
        return f"a whole number of at least {self.minimum}"

    def check(self, value: object) -> numbers.Integral:
        """``value`` itself, or ValueError('must be ...') naming what it must be."""
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < self.minimum:
            raise ValueError(f"must be {self.requirement()}, got {value!r}")
        if int(value) > self.maximum:
            raise ValueError(
                f"must be {self.requirement()} up to {self.maximum}, got {value!r}"
                if self.maximum == sys.maxsize
                else f"must be {self.requirement()}, got {value!r}"
            )
        return value


class RealNumber(_NumberType):
    """A finite number in the interval from ``low`` to ``high`` (None: unbounded).

    ``low_open`` / ``high_open`` leave the bound itself out.
    """

    parse = float

    def __init__(self, low: float | None = None, high: float | None = None, *, low_open=False, high_open=False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def requirement(self) -> str:
        low, high = self.low, self.high
        if low is not None and high is not None:
            if not (self.low_open or self.high_open):
                return f"between {low:g} and {high:g}"
            return (
                f"{'above' if self.low_open else 'at least'} {low:g} and "
                f"{'below' if self.high_open else 'at most'} {high:g}"
            )
        if low is not None:
            return "positive" if (low == 0 and self.low_open) else f"at least {low:g}"
        return "a finite number"

    def contains(self, value: numbers.Real | float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def check(self, value: object) -> numbers.Real:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not self.contains(value):
            raise ValueError(f"must be {self.requirement()}, got {value!r}")
        return value


def _shown(text: str) -> str:
    """The text as typed; quoted when it is empty or has spaces, which would not show."""
    return text if text and text.strip() == text else repr(text)


def check_flag(flag: str, value, number):
    """``value`` if ``number`` accepts it, else UserError('FLAG must be ...')."""
    try:
        return number.check(value)
    except ValueError as exc:
        raise UserError(f"{flag} {exc}") from None


COUNT = WholeNumber(1)  # episodes, sizes, steps: every count flag
COUNT_OR_OFF = WholeNumber(0, description="0 (off) or a positive whole number")  # a count whose 0 turns its job off
SEED = WholeNumber(0, MAX_SEED)
FINITE = RealNumber()
