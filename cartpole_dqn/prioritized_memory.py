"""Prioritized replay (the author's lesson 5, PER.py): a sum tree of priorities over the transitions.

The tree is an array of ``2 * capacity - 1`` sums: the leaves (the last
``capacity`` entries) hold each transition's priority, every other entry the
sum of its two children, the first the total.  A new transition takes the
highest priority of any leaf (1 while all are 0), overwriting the oldest once
the memory is full.  A minibatch of n divides the total into n equal
segments and draws one value uniformly from each (NumPy's global generator,
as his code), then walks down from the root to the leaf whose running sum
covers it.  After the replay each drawn leaf gets the priority
``min(|TD error| + offset, error_clip) ** alpha``.

It computes what the lesson's per-sample loops compute, bit for bit, with
array operations over the whole minibatch: the same tree layout, the same
order of float additions on every sum (each ancestor's total is changed by
the difference, in the order of the minibatch, as his loop does; where a
leaf is drawn twice the later priority wins), the same values drawn.
``tests/test_lessons.py`` holds it against :mod:`cartpole_dqn.lesson_reference`.

One change: the walk never goes into a subtree whose sum is 0.  Such a
subtree holds only leaves never written (the memory is not yet full), and
his walk reaches one only by rounding or by drawing exactly 0; there his
code stops with a TypeError (an empty leaf's data is the number 0).  On
every draw his code completes, the two walks are the same.

Importance-sampling weights (declared in PER.py, never applied by his code)
are computed when ``importance_sampling`` is on: ``(N * P(i)) ** -beta``
over the largest possible weight, beta growing by ``beta_increment`` per
minibatch up to 1.  Without them the loss is unweighted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from cartpole_dqn.compiled import Minibatch


class Draw(NamedTuple):
    """One prioritized minibatch: the tree's leaf of each transition, the transitions, their loss weights."""

    leaves: np.ndarray  # (n,) int64 tree indices
    minibatch: Minibatch
    weights: np.ndarray | None  # (n,) float32 loss weights; None without importance sampling (all 1)


def prioritized_memory(hyperparameters, state_shape: tuple[int, ...], memory_class=None) -> PrioritizedMemory:
    """An empty ``memory_class`` (PrioritizedMemory by default) with the recipe's capacity and PER values."""
    hp = hyperparameters
    return (memory_class or PrioritizedMemory)(
        hp.memory_size,
        state_shape,
        alpha=hp.per_alpha,
        offset=hp.per_offset,
        error_clip=hp.per_error_clip,
        importance_sampling=hp.importance_sampling,
        beta=hp.per_beta,
        beta_increment=hp.per_beta_increment,
    )


class PrioritizedMemory:
    """A replay memory of ``capacity`` transitions, sampled by priority (see the module docstring)."""

    def __init__(
        self,
        capacity: int,
        state_size: int | tuple[int, ...],
        *,
        alpha: float = 0.6,
        offset: float = 0.01,
        error_clip: float = 1.0,
        importance_sampling: bool = False,
        beta: float = 0.4,
        beta_increment: float = 0.001,
    ):
        self.capacity = capacity
        self.alpha, self.offset, self.error_clip = np.float32(alpha), np.float32(offset), np.float32(error_clip)
        self.importance_sampling, self.beta, self.beta_increment = importance_sampling, beta, beta_increment
        self.tree = np.zeros(2 * capacity - 1)
        self.state_shape = (state_size,) if isinstance(state_size, int) else tuple(state_size)
        self.states = np.zeros((capacity, *self._stored_shape()), np.float32)
        self.actions = np.zeros(capacity, np.int32)
        self.rewards = np.zeros(capacity, np.float32)
        self.next_states = np.zeros((capacity, *self._stored_shape()), np.float32)
        self.dones = np.zeros(capacity, bool)
        self.data_pointer = 0  # where the next transition goes (his name)
        self.size = 0
        # Leaves sit at two depths when capacity is no power of 2: each one's, for the ancestors of a level.
        self._leaf_depth = np.array([(i + 1).bit_length() - 1 for i in range(capacity - 1, 2 * capacity - 1)])

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int):
        """The index-th stored transition, oldest first (``[-1]`` is the newest), as ``remember`` got it."""
        if not -self.size <= index < self.size:
            raise IndexError("memory index out of range")
        slot = (self.data_pointer - self.size + index % self.size) % self.capacity
        states, next_states = self._states_of(np.array([slot]))
        return states, int(self.actions[slot]), float(self.rewards[slot]), next_states, bool(self.dones[slot])

    def append(self, transition) -> None:
        """Store (state, action, reward, next_state, done) at the highest priority of any leaf."""
        state, action, reward, next_state, done = transition
        slot = self.data_pointer
        self._store_states(slot, state, next_state)
        self.actions[slot], self.rewards[slot], self.dones[slot] = action, reward, done
        highest = self.tree[-self.capacity :].max()
        self._set_leaf(slot + self.capacity - 1, highest if highest else float(self.error_clip))
        self.data_pointer = (slot + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int) -> Draw:
        """n transitions, one from each of n equal segments of the total priority."""
        from cartpole_dqn.compiled import Minibatch  # here: the checkpoint reads this module before TensorFlow loads

        segment = self.tree[0] / n
        bounds = segment * np.arange(n + 1)
        leaves = self._leaves_at(np.random.uniform(bounds[:-1], bounds[1:]))
        slots = leaves - (self.capacity - 1)
        states, next_states = self._states_of(slots)
        minibatch = Minibatch(states, self.actions[slots], self.rewards[slots], next_states, self.dones[slots])
        return Draw(leaves, minibatch, self._weights(leaves))

    def update_priorities(self, leaves: np.ndarray, abs_errors: np.ndarray) -> None:
        """Give each drawn leaf ``min(|error| + offset, error_clip) ** alpha`` (in float32, as his code)."""
        priorities = np.power(
            np.minimum(np.asarray(abs_errors, np.float32) + self.offset, self.error_clip), self.alpha
        ).astype(np.float64)
        # A leaf drawn twice: the later update sees the earlier one's priority, and keeps its own.
        order = np.argsort(leaves, kind="stable")
        ordered = leaves[order]
        repeat = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
        before = self.tree[ordered]
        before[repeat] = priorities[order][repeat - 1]
        change = np.empty_like(priorities)
        change[order] = priorities[order] - before
        last = np.ones(len(ordered), bool)
        last[repeat - 1] = False
        self.tree[ordered[last]] = priorities[order][last]
        self._add_to_ancestors(leaves, change)

    # -- the states: kept whole here, frame by frame in FrameMemory -------

    def _stored_shape(self) -> tuple[int, ...]:
        return self.state_shape

    def _store_states(self, slot: int, state, next_state) -> None:
        self.states[slot] = np.reshape(state, self.state_shape)
        self.next_states[slot] = np.reshape(next_state, self.state_shape)

    def _states_of(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The states and next states of the transitions in ``slots``, as (len(slots), *state_shape) arrays."""
        return self.states[slots], self.next_states[slots]

    # -- checkpoints ------------------------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        """Everything the memory holds, as arrays: the tree, the transitions, where the next goes, beta."""
        return {
            "tree": self.tree,
            "states": self.states,
            "actions": self.actions,
            "rewards": self.rewards,
            "next_states": self.next_states,
            "dones": self.dones,
            "position": np.array([self.data_pointer, self.size]),
            "beta": np.array(self.beta),
        }

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Put back what ``state()`` returned (ValueError if it is of another capacity or state size)."""
        for name in ("tree", "states", "actions", "rewards", "next_states", "dones"):
            current = getattr(self, name)
            if state[name].shape != current.shape:
                raise ValueError(f"a prioritized memory's {name} of shape {state[name].shape}, not {current.shape}")
            current[...] = state[name]
        self.data_pointer, self.size = (int(value) for value in state["position"])
        self.beta = float(state["beta"])

    # -- the tree ---------------------------------------------------------

    def _set_leaf(self, leaf: int, priority: float) -> None:
        change = priority - self.tree[leaf]
        self.tree[leaf] = priority
        ancestors = []
        while leaf:
            leaf = (leaf - 1) // 2
            ancestors.append(leaf)
        self.tree[ancestors] += change

    def _add_to_ancestors(self, leaves: np.ndarray, change: np.ndarray) -> None:
        # Every ancestor of every leaf in one np.add.at, leaf after leaf: it adds repeated indices one after the
        # other, so each sum receives its changes in the order of the minibatch, as one update after the other would.
        depths = self._leaf_depth[leaves - (self.capacity - 1)]
        shifts = depths[:, None] - np.arange(depths.max())
        above = shifts > 0
        ancestors = ((leaves[:, None] + 1) >> np.maximum(shifts, 0)) - 1
        np.add.at(self.tree, ancestors[above], np.broadcast_to(change[:, None], shifts.shape)[above])

    def _leaves_at(self, values: np.ndarray) -> np.ndarray:
        """The leaf each value falls in: left where the value is at most the left sum, else right, less it.

        His walk first; the rare draws it ends on an empty leaf (it went into an empty subtree) walk again,
        never going where the sum is 0.
        """
        leaves = self._walk(values.copy(), guarded=False)
        empty = self.tree[leaves] == 0
        if empty.any():
            leaves[empty] = self._walk(values[empty], guarded=True)
        return leaves

    def _walk(self, values: np.ndarray, guarded: bool) -> np.ndarray:
        node = np.zeros(len(values), np.int64)
        for _ in range(self._leaf_depth[0]):  # the levels above the shallowest leaf: every node has children
            node = self._step(node, values, guarded)
        deeper = node < self.capacity - 1  # the last level, where capacity is no power of 2
        if deeper.any():
            part = values[deeper]
            node[deeper] = self._step(node[deeper], part, guarded)
        return node

    def _step(self, node: np.ndarray, values: np.ndarray, guarded: bool) -> np.ndarray:
        """One level down; ``values`` (the rest to cover) change in place."""
        left = 2 * node + 1
        left_sum = self.tree[left]
        right = values > left_sum
        if guarded:
            right = (right | (left_sum == 0)) & (self.tree[left + 1] != 0)
        np.subtract(values, left_sum, out=values, where=right)
        return left + right

    def _weights(self, leaves: np.ndarray) -> np.ndarray | None:
        if not self.importance_sampling:
            return None
        self.beta = min(1.0, self.beta + self.beta_increment)
        lowest = self.tree[self.capacity - 1 :][: self.size].min()
        # (N * P(i)) ** -beta over the largest weight a stored transition could get, the lowest priority's:
        # N and the total cancel.
        return ((self.tree[leaves] / lowest) ** -self.beta).astype(np.float32)
