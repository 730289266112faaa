"""The fast path: the agent's TensorFlow calls, compiled once and called with arrays.

The tutorial talks to its network through ``model.predict`` (one call per
sample, two per sampled transition) and ``model.fit``.  Each of those calls
pays Keras's set-up cost, which in Keras 3 is far larger than the arithmetic
on this small network.  :class:`CompiledQNetwork` computes the same numbers
for a whole minibatch in compiled TensorFlow functions:

* ``q_values(states)``: the forward pass in inference mode, as ``predict``;
* ``targets(minibatch, gamma)``: the tutorial's ``y_batch`` for every sample;
* ``train_step(minibatch, gamma)``: those targets and one gradient step on
  them, as the tutorial's single ``fit`` call (Dropout active);
* ``train_step_then_q(minibatch, gamma, upcoming)``: the same step, then Q of
  ``upcoming`` with the updated weights, in one call;
* ``prioritized_train_step_then_q(minibatch, gamma, upcoming, weights)``:
  the same with a weight per sample, also returning each sample's TD error
  before the step (prioritized replay, the author's lesson 5);
* ``update_target()``: with a target network (off in the tutorial's recipe),
  move its weights to the online network's, or ``tau`` of the way; with
  ``update_target_every_step`` the training calls do that themselves after
  each gradient step, in the same compiled call.

With a target network the next states are valued by it, inside the same
compiled calls; with Double DQN the online network picks the action it
values.

``tests/test_replay_equivalence.py`` holds these against the tutorial's
per-sample code.  The module also owns the two things that make the calls
cheap: the call helper that skips TensorFlow's per-call argument binding, and
the thread setting (:func:`use_one_thread_per_operation`).  BENCHMARKS.md has
the measurements behind both.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf


class Minibatch(NamedTuple):
    """Sampled transitions as arrays: what every compiled training call takes."""

    states: np.ndarray  # (n, *state_shape) float32
    actions: np.ndarray  # (n,) int32
    rewards: np.ndarray  # (n,) float32
    next_states: np.ndarray  # (n, *state_shape) float32
    dones: np.ndarray  # (n,) bool


def minibatch_arrays(transitions) -> Minibatch:
    """(state, action, reward, next_state, done) tuples, states shaped (1, n) as stored, to arrays."""
    states, actions, rewards, next_states, dones = zip(*transitions, strict=True)
    return Minibatch(
        np.concatenate(states).astype(np.float32, copy=False),
        np.asarray(actions, dtype=np.int32),
        np.asarray(rewards, dtype=np.float32),
        np.concatenate(next_states).astype(np.float32, copy=False),
        np.asarray(dones, dtype=bool),
    )


class CompiledQNetwork:
    """The compiled calls on one Keras Q-network and its target network, if any (see the module docstring)."""

    def __init__(
        self,
        model,
        target_model=None,
        *,
        double_dqn: bool = False,
        tau: float = 1.0,
        update_target_every_step: bool = False,
    ):
        self.model = model
        self.target_model = target_model
        self.double_dqn = double_dqn
        self.tau = tau
        # A target update after every replay (a soft update, usually) costs a
        # call of its own unless the training step makes it.
        self.update_target_every_step = update_target_every_step and target_model is not None
        self.action_size = int(model.output_shape[-1])
        # A head whose outputs depend on the whole batch (the dueling lessons' mean) must see states and next
        # states in separate calls.
        self.mixes_batch = any(getattr(layer, "mixes_batch", False) for layer in model.layers)
        # Without Dropout, training's forward pass computes Q(states) as inference does: one pass can serve both.
        self.training_pass_is_inference = not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)
        states = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
        minibatch = [
            states,
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.float32),
            states,
            tf.TensorSpec([None], tf.bool),
            tf.TensorSpec([], tf.float32),
        ]
        self._q_values = compile_function(lambda s: model(s, training=False), [states])
        self._targets = compile_function(self._q_targets, minibatch)
        self._train_step = compile_function(self._train_on_targets, minibatch)
        self._train_step_then_q = compile_function(self._train_then_predict, minibatch + [states])
        self._update_target = compile_function(self._move_target_toward_online, [])
        # Without importance-sampling weights (the PER lesson's own replay) the loss takes none: a cheaper call.
        self._prioritized_train_step_then_q = compile_function(
            self._prioritized_train_then_predict, minibatch + [states]
        )
        self._weighted_train_step_then_q = compile_function(
            self._prioritized_train_then_predict, minibatch + [states, tf.TensorSpec([None], tf.float32)]
        )

    def q_values(self, states) -> np.ndarray:
        """Q-values of a batch of states, shape (n, actions)."""
        return self._q_values(states).numpy()

    def targets(self, minibatch: Minibatch, gamma: float) -> np.ndarray:
        """The y_batch a replay fits to."""
        return self._targets(*minibatch, gamma).numpy()

    def train_step(self, minibatch: Minibatch, gamma: float) -> None:
        """One gradient step toward the minibatch's targets."""
        self._train_step(*minibatch, gamma)

    def train_step_then_q(self, minibatch: Minibatch, gamma: float, upcoming) -> np.ndarray:
        """One gradient step, then Q-values of ``upcoming`` with the updated weights."""
        return self._train_step_then_q(*minibatch, gamma, upcoming).numpy()

    def prioritized_train_step_then_q(
        self, minibatch: Minibatch, gamma: float, upcoming, weights=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``train_step_then_q``, also returning |target - Q| of each taken action; ``weights`` weight each loss.

        The errors are those of the Q-values before the step, which prioritized replay needs; all in one call.
        """
        if weights is None:
            q_upcoming, errors = self._prioritized_train_step_then_q(*minibatch, gamma, upcoming)
        else:
            q_upcoming, errors = self._weighted_train_step_then_q(*minibatch, gamma, upcoming, weights)
        return q_upcoming.numpy(), errors.numpy()

    def update_target(self) -> None:
        """Copy the online weights into the target network, or move them ``tau`` of the way (soft update)."""
        self._update_target()

    # -- the graphs ------------------------------------------------------

    def _q_targets(self, states, actions, rewards, next_states, dones, gamma):
        """The tutorial's y_target for a whole minibatch at once.

        Per sample the tutorial does: y = predict(state); y[action] = reward if
        done else reward + gamma * max(predict(next_state)).  ``predict`` runs
        in inference mode (no dropout), so both forward passes here do too;
        states and next states go through the network in one call, unless its
        outputs depend on the batch (the dueling lessons' head), which then
        sees them apart, as the lessons' two ``predict`` calls do.
        """
        return self._q_and_targets(states, actions, rewards, next_states, dones, gamma)[1]

    def _q_and_targets(self, states, actions, rewards, next_states, dones, gamma):
        """Q(states) before the step, and the targets."""
        if self.mixes_batch:
            q, q_next = self.model(states, training=False), self.model(next_states, training=False)
        else:
            q_all = self.model(tf.concat([states, next_states], axis=0), training=False)
            q, q_next = tf.split(q_all, 2, axis=0)
        return q, self._targets_from(q, q_next, actions, rewards, next_states, dones, gamma)

    def _targets_from(self, q, q_next, actions, rewards, next_states, dones, gamma):
        """The targets: Q(states), the taken action's replaced by reward (+ gamma * the next state's value)."""
        target = tf.where(dones, rewards, rewards + gamma * self._next_state_values(q_next, next_states))
        chosen = tf.one_hot(actions, self.action_size, on_value=True, off_value=False)
        return tf.where(chosen, target[:, None], q)

    def _next_state_values(self, q_next, next_states):
        """What each next state is worth: max_a Q(s', a), from the target network if there is one.

        ``q_next`` is the online network's Q(s', .).  With Double DQN (the
        author's DDQN lesson) the online network picks the action and the
        target network values it.
        """
        if self.target_model is None:
            return tf.reduce_max(q_next, axis=1)
        target_q_next = self.target_model(next_states, training=False)
        if not self.double_dqn:
            return tf.reduce_max(target_q_next, axis=1)
        best = tf.argmax(q_next, axis=1, output_type=tf.int32)
        return tf.gather(target_q_next, best, axis=1, batch_dims=1)

    def _train_on_targets(self, states, actions, rewards, next_states, dones, gamma):
        """One gradient step on the minibatch, as the tutorial's single ``fit`` call."""
        q_and_targets = self._q_and_targets(states, actions, rewards, next_states, dones, gamma)
        return self._gradient_step(states, lambda _: q_and_targets)

    def _gradient_step(self, states, q_and_targets, weights=None):
        """One step toward targets; ``q_and_targets`` makes (Q(states), targets) from this pass's own Q(states),
        held constant, or returns ones made before.  Returns them."""
        model = self.model
        with tf.GradientTape() as tape:
            predictions = model(states, training=True)  # dropout active, as in fit
            q, y_batch = q_and_targets(tf.stop_gradient(predictions))
            loss = model.loss(tf.stop_gradient(y_batch), predictions, sample_weight=weights)
        variables = model.trainable_variables
        model.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        if self.update_target_every_step:
            self._move_target_toward_online()  # reads the updated weights: ordered after apply_gradients
        return q, y_batch

    def _train_then_predict(self, states, actions, rewards, next_states, dones, gamma, upcoming):
        # TensorFlow orders the forward pass after the weight updates because
        # both use the same variables (automatic control dependencies).
        self._train_on_targets(states, actions, rewards, next_states, dones, gamma)
        return self.model(upcoming, training=False)

    def _prioritized_train_then_predict(
        self, states, actions, rewards, next_states, dones, gamma, upcoming, weights=None
    ):
        # The errors come from the Q-values the targets were built from, before the step, as in the PER lesson.
        if self.mixes_batch and self.training_pass_is_inference:
            # The lessons' presets: Q(states) from the gradient step's own forward pass, one pass fewer (for
            # lesson 6's network a sixth of the replay's arithmetic), the same numbers.
            def targets(q):
                q_next = self.model(next_states, training=False)
                return q, self._targets_from(q, q_next, actions, rewards, next_states, dones, gamma)

            q, y_batch = self._gradient_step(states, targets, weights)
        else:
            q_and_targets = self._q_and_targets(states, actions, rewards, next_states, dones, gamma)
            q, y_batch = self._gradient_step(states, lambda _: q_and_targets, weights)
        return self.model(upcoming, training=False), tf.reduce_max(tf.abs(y_batch - q), axis=1)

    def _move_target_toward_online(self):
        # Trainable weights only: the Dropout layers' seed states play no part in valuing states.
        for target, online in zip(self.target_model.trainable_variables, self.model.trainable_variables, strict=True):
            target.assign(online if self.tau == 1.0 else (1.0 - self.tau) * target + self.tau * online)


# -- calling a compiled function cheaply ---------------------------------


def _has_flat_entry() -> bool:
    """Whether this TensorFlow's concrete functions have ``_call_flat(tensor_inputs, captured_inputs)``, and its
    conversion of arrays and numbers ends in ``convert_to_eager_tensor(value, ctx, dtype)``."""
    try:
        from tensorflow.python.eager.polymorphic_function.concrete_function import ConcreteFunction
        from tensorflow.python.framework.constant_op import convert_to_eager_tensor
    except ImportError:
        return False
    entry = getattr(ConcreteFunction, "_call_flat", None)
    if entry is None:
        return False
    return list(inspect.signature(entry).parameters) == ["self", "tensor_inputs", "captured_inputs"] and list(
        inspect.signature(convert_to_eager_tensor).parameters
    ) == ["value", "ctx", "dtype"]


def _convert_eagerly(args, dtypes) -> list:
    """``tf.convert_to_tensor`` of each argument as the lookup it makes ends for arrays and numbers: the same
    tensors, without the lookup."""
    from tensorflow.python.eager.context import context
    from tensorflow.python.framework.constant_op import convert_to_eager_tensor

    ctx = context()
    return [convert_to_eager_tensor(arg, ctx, dtype) for arg, dtype in zip(args, dtypes, strict=True)]


# The flat entry is private to TensorFlow: use it only where it has the
# signature this module was written against, else the public call.
USE_FLAT_ENTRY = _has_flat_entry()


def compile_function(python_function, input_signature) -> Callable:
    """``python_function`` as a TensorFlow graph, callable with arrays or numbers.

    Calling a ``tf.function``, or even its concrete function, spends time in
    Python matching the arguments to the signature on every call, and
    ``tf.convert_to_tensor`` spends more looking up how to convert each
    argument.  The signature is fixed here, so the call converts each argument
    with the function that lookup ends in for arrays and numbers
    (``convert_to_eager_tensor``, the same tensor) and goes straight to the
    concrete function's flat entry point (``_call_flat``, where its own
    ``__call__`` ends); where this TensorFlow has no such entry
    (:data:`USE_FLAT_ENTRY` is False), or outside eager execution, it takes
    the public calls.  Traced on the first call, as a ``tf.function`` is.
    """
    function = tf.function(python_function, input_signature=input_signature)
    dtypes = [spec.dtype for spec in input_signature]
    concrete = None

    def call(*args):
        nonlocal concrete
        if concrete is None:
            concrete = function.get_concrete_function()
        if USE_FLAT_ENTRY and tf.executing_eagerly():
            return concrete._call_flat(_convert_eagerly(args, dtypes), concrete.captured_inputs)
        return concrete(*[tf.convert_to_tensor(arg, dtype) for arg, dtype in zip(args, dtypes, strict=True)])

    return call


# -- threads --------------------------------------------------------------

_THREADS_VARIABLE = "TF_NUM_INTRAOP_THREADS"  # TensorFlow's own override


def use_one_thread_per_operation() -> None:
    """Run each TensorFlow operation on one thread, several operations at a time.

    The network's matrices are small (at most 256 x 512): splitting one
    operation over the cores costs more in thread hand-offs than it saves,
    while independent operations (the target pass and the training pass)
    still run side by side.  The results are the same bit for bit; the speed
    is measured in BENCHMARKS.md.  TensorFlow fixes this when it first runs:
    if it already runs, or TF_NUM_INTRAOP_THREADS is set, or a program has
    already chosen a number (``tf.config.threading``), that setting stays.
    """
    if _THREADS_VARIABLE in os.environ or tf.config.threading.get_intra_op_parallelism_threads():
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
    except RuntimeError:
        pass


def threads_per_operation():
    """The threads each TensorFlow operation runs on in this process, as a number or a description."""
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    return threads or os.environ.get(_THREADS_VARIABLE, "TensorFlow's default number of threads")
