"""The tutorial's memory, a deque of transitions, that also keeps them as NumPy arrays to sample from.

The tutorial samples its minibatch with ``random.sample(memory, batch_size)``
and the agent turns the sampled tuples into arrays.  ``random.sample`` of a
sequence draws positions from Python's random stream and returns the items
at them; what it draws depends only on the sequence's length and the number
asked for.  So ``random.sample(range(len(memory)), k)`` draws the same
positions from the same stream, and gathering those rows from arrays that
hold the same transitions gives the same minibatch, without building it
from 2 x ``k`` small arrays.

The arrays are a ring as long as the deque's ``maxlen``, written by
``append`` (all ``remember`` does); any other change to the deque drops them,
and the next sample rebuilds them from the deque.
"""

from __future__ import annotations

import random
from collections import deque

import numpy as np

from cartpole_dqn.compiled import Minibatch

# Every deque method that changes its contents other than append: each drops the arrays.
_OTHER_CHANGES = (
    "appendleft",
    "extend",
    "extendleft",
    "pop",
    "popleft",
    "remove",
    "insert",
    "clear",
    "rotate",
    "reverse",
    "__setitem__",
    "__delitem__",
    "__iadd__",
    "__imul__",
)


class _Ring:
    """The transitions' fields as arrays: row ``(end - length + j) % capacity`` holds the deque's ``j``-th."""

    def __init__(self, capacity: int, state_shape: tuple[int, ...]):
        self.states = np.zeros((capacity, *state_shape), np.float32)
        self.actions = np.zeros(capacity, np.int32)
        self.rewards = np.zeros(capacity, np.float32)
        self.next_states = np.zeros((capacity, *state_shape), np.float32)
        self.dones = np.zeros(capacity, bool)
        self.end = 0  # the row the next transition goes to

    def write(self, transition) -> None:
        state, action, reward, next_state, done = transition
        row = self.end
        self.states[row], self.actions[row], self.rewards[row] = state[0], action, reward
        self.next_states[row], self.dones[row] = next_state[0], done
        self.end = (row + 1) % len(self.actions)

    def gather(self, positions, length: int) -> Minibatch:
        rows = (np.asarray(positions, dtype=np.intp) + (self.end - length)) % len(self.actions)
        return Minibatch(
            self.states[rows], self.actions[rows], self.rewards[rows], self.next_states[rows], self.dones[rows]
        )


class UniformMemory(deque):
    """A deque of (state, action, reward, next_state, done) with a ``maxlen``, states shaped (1, *state_shape);
    :meth:`minibatch` samples it as ``random.sample`` does, as arrays."""

    def __init__(self, iterable=(), maxlen: int | None = None):
        if maxlen is None:
            raise TypeError("UniformMemory needs a maxlen")
        super().__init__(iterable, maxlen)
        self._ring: _Ring | None = None  # built by the first minibatch

    def append(self, transition) -> None:
        super().append(transition)
        if self._ring is not None:
            self._ring.write(transition)

    def minibatch(self, size: int) -> Minibatch:
        """``min(len, size)`` transitions drawn as ``random.sample(self, size)`` draws them, as arrays."""
        length = len(self)
        positions = random.sample(range(length), min(length, size))
        if self._ring is None:
            self._ring = _Ring(self.maxlen or 0, np.shape(self[0][0])[1:])
            for transition in self:
                self._ring.write(transition)
        return self._ring.gather(positions, length)


def _dropping_the_arrays(name: str):
    change = getattr(deque, name)

    def changed(self, *args):
        self._ring = None
        return change(self, *args)

    changed.__name__ = changed.__qualname__ = name
    return changed


for _name in _OTHER_CHANGES:
    setattr(UniformMemory, _name, _dropping_the_arrays(_name))
