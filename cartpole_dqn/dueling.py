"""The dueling head of the author's lessons 3 to 5: Q(s, a) = V(s) + (A(s, a) - mean A).

The network's last hidden layer feeds two Dense layers, a value stream (one
number per state) and an advantage stream (one per action); the head adds
the value to the advantages less their mean.  The lessons' code takes that
mean with no axis, so over every advantage of the batch: a state's Q-values
then depend on the other states it is computed with.  Every Q-value of a
batch moves by the same number, so no action chosen by argmax changes; the
targets a replay fits to do (docs/differences.md says how).  ``mean_over``
"batch" keeps that; "state" takes each state's own mean, the usual form.

:class:`DuelingHead` is a Keras layer of its own rather than the lessons'
``Lambda``: a saved model then holds no Python code, and a safe load
(``safe_mode=True``) reads it because this module registers the class.
"""

from __future__ import annotations

import keras
from keras.layers import Dense

MEAN_OVER = ("batch", "state")


@keras.saving.register_keras_serializable(package="cartpole_dqn")
class DuelingHead(keras.layers.Layer):
    """Called on [value (n, 1), advantage (n, actions)]: value + (advantage - mean advantage)."""

    def __init__(self, mean_over="state", **kwargs):
        super().__init__(**kwargs)
        if mean_over not in MEAN_OVER:
            raise ValueError(f"mean_over must be one of {MEAN_OVER}, got {mean_over!r}")
        self.mean_over = mean_over

    @property
    def mixes_batch(self) -> bool:
        """Whether one state's output depends on the other states of its batch."""
        return self.mean_over == "batch"

    def call(self, inputs):
        value, advantage = inputs
        axis = None if self.mixes_batch else -1
        return value + (advantage - keras.ops.mean(advantage, axis=axis, keepdims=True))

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "mean_over": self.mean_over}


def dueling_q_values(features, action_space: int, initializer: str, mean_over: str):
    """The two streams on ``features`` (the last hidden layer) and the head that joins them.

    The value stream is made first, as in the lessons' code, so a seeded
    network draws its initial weights in the same order.
    """
    value = Dense(1, kernel_initializer=initializer)(features)
    advantage = Dense(action_space, kernel_initializer=initializer)(features)
    return DuelingHead(mean_over)([value, advantage])
