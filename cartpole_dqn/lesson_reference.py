"""The author's lessons 3 to 5 as his scripts compute them, one sample at a time: the yardstick, not the package's path.

What :mod:`cartpole_dqn.tutorial_reference` is for the tutorial and lesson 2,
this module is for ``Cartpole_Double_DDQN_TF2.py`` (the dueling head),
``Cartpole_e_greedy_D3QN_TF2.py`` (epsilon per step) and
``Cartpole_PER_D3QN_TF2.py`` with ``PER.py`` (the sum tree and its replay):
their arithmetic written out as they do it, with ``Lambda`` layers, Python
loops over the samples and over the tree's levels, so that
``tests/test_lessons.py`` can hold the package's batched code against it.
Lessons 3 and 4 build their targets as lesson 2 does
(:func:`~cartpole_dqn.tutorial_reference.ddqn_lesson_targets`).  Never used for
training by the package itself.
"""

from __future__ import annotations

import keras
import numpy as np

from cartpole_dqn.tutorial_reference import ddqn_lesson_targets


def lesson_dueling_model(model):
    """The lessons' dueling network, with their two Lambda layers, holding ``model``'s weights.

    The value stream's Lambda takes column 0 and gives it back its axis (it
    changes nothing); the advantage stream's subtracts ``mean`` with no
    axis: the mean of every advantage in the batch.
    """
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    inputs = keras.Input(model.input_shape[1:])
    x = inputs
    for layer in dense[:3]:
        x = keras.layers.Dense(layer.units, activation="relu")(x)
    value = keras.layers.Dense(1)(x)
    value = keras.layers.Lambda(lambda s: keras.ops.expand_dims(s[:, 0], -1))(value)
    advantage = keras.layers.Dense(dense[4].units)(x)
    advantage = keras.layers.Lambda(lambda a: a - keras.ops.mean(a, keepdims=True))(advantage)
    theirs = keras.Model(inputs, keras.layers.Add()([value, advantage]))
    for mine, copy in zip(
        dense, [layer for layer in theirs.layers if isinstance(layer, keras.layers.Dense)], strict=True
    ):
        copy.set_weights(mine.get_weights())
    return theirs


def lesson4_epsilon(step, epsilon=1.0, epsilon_min=0.01, decay=0.0005):
    """The exploration probability lesson 4's ``act`` uses for the run's ``step``-th action (counted from 1)."""
    return epsilon_min + (epsilon - epsilon_min) * np.exp(-decay * step)


def lesson5_epsilons(steps, epsilon=1.0, epsilon_min=0.01, decay=0.0005):
    """Lesson 5's exploration probability for each of the run's first ``steps`` actions.

    Its exponential schedule is switched off (the switch is misspelt), so each
    ``act`` first multiplies epsilon by 1 - decay while it is above the minimum.
    """
    values = []
    for _ in range(steps):
        if epsilon > epsilon_min:
            epsilon *= 1 - decay
        values.append(epsilon)
    return values


class LessonSumTree:
    """PER.py's sum tree: leaves after the ``capacity - 1`` inner sums, each change added up the path."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.tree = np.zeros(2 * capacity - 1)
        self.data = [None] * capacity  # his holds 0 here; an empty leaf drawn stops his code either way
        self.data_pointer = 0

    def add(self, priority, data):
        self.data[self.data_pointer] = data
        self.update(self.data_pointer + self.capacity - 1, priority)
        self.data_pointer = (self.data_pointer + 1) % self.capacity

    def update(self, index, priority):
        change = priority - self.tree[index]
        self.tree[index] = priority
        while index != 0:
            index = (index - 1) // 2
            self.tree[index] += change

    def get_leaf(self, value):
        parent = 0
        while 2 * parent + 1 < len(self.tree):
            left = 2 * parent + 1
            if value <= self.tree[left]:
                parent = left
            else:
                value -= self.tree[left]
                parent = left + 1
        return parent, self.tree[parent], self.data[parent - self.capacity + 1]


class LessonMemory:
    """PER.py's ``Memory``: store at the highest leaf, stratified sampling, clipped priorities."""

    offset, alpha, error_clip = 0.01, 0.6, 1.0

    def __init__(self, capacity):
        self.tree = LessonSumTree(capacity)

    def store(self, transition):
        highest = np.max(self.tree.tree[-self.tree.capacity :])
        self.tree.add(highest if highest != 0 else self.error_clip, transition)

    def sample(self, n):
        leaves, minibatch = np.empty(n, dtype=np.int32), []
        segment = self.tree.tree[0] / n
        for i in range(n):
            leaf, _, transition = self.tree.get_leaf(np.random.uniform(segment * i, segment * (i + 1)))
            if transition is None:
                raise TypeError("an empty leaf was drawn")
            leaves[i] = leaf
            minibatch.append(transition)
        return leaves, minibatch

    def batch_update(self, leaves, abs_errors):
        abs_errors += self.offset
        for leaf, priority in zip(leaves, np.power(np.minimum(abs_errors, self.error_clip), self.alpha), strict=True):
            self.tree.update(leaf, priority)


def per_lesson_replay_targets(model, target_model, memory, batch_size, gamma):
    """Lesson 5's replay up to its ``fit``: draw, Double DQN targets, priorities updated in ``memory``.

    Returns the drawn leaves, the states, the targets and the absolute errors
    of the taken actions (his ``target_old`` against ``target``).
    """
    leaves, minibatch = memory.sample(batch_size)
    states, target = ddqn_lesson_targets(model, target_model, minibatch, gamma)
    before = model.predict(states, verbose=0)
    actions = np.array([transition[1] for transition in minibatch])
    rows = np.arange(batch_size)
    abs_errors = np.abs(before[rows, actions] - target[rows, actions])
    memory.batch_update(leaves, abs_errors.copy())
    return leaves, states, target, abs_errors
