"""The tutorial's Q-network, ``OurModel``, and how it is saved and loaded.

The network maps a CartPole state (4 numbers) to one Q-value per action
(2 numbers): Dense 512 -> 256 -> 64 with ReLU, Dropout(0.5) after each hidden
layer, a linear output, mean squared error and Adam.  The ``dqn-script``
preset drops the Dropout, initialises with he_uniform and uses RMSprop;
``--loss huber`` swaps the mean squared error for the Huber loss; ``--dueling``
ends it in the dueling head of the author's lessons 3-5 (:mod:`cartpole_dqn.dueling`);
``--bfloat16`` makes the Dense (and convolution) layers before the output compute in
bfloat16 (Keras's "mixed_bfloat16": float32 weights, bfloat16 products); the output
layers stay float32, so do the Q-values, targets and losses, and so does Dropout, whose
masks cost more in bfloat16 than the casts around them.

Saving writes beside the target and renames, so an interrupted save never
destroys the previous model.  Loading recompiles the network, because in
Keras 3 a model from plain ``load_model`` of an ``.h5`` can predict but not
train.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from keras.layers import Dense, Dropout, Input
from keras.models import Model

from cartpole_dqn import foreign_models
from cartpole_dqn.dueling import DuelingHead, dueling_q_values
from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import DEFAULTS, flag_of
from cartpole_dqn.output_files import written_atomically
from cartpole_dqn.pixels import lesson_convolutions

MIXED_BFLOAT16 = "mixed_bfloat16"  # Keras's dtype policy: variables in float32, computation in bfloat16


def OurModel(input_shape, action_space, hyperparameters=DEFAULTS):
    """Build and compile the tutorial's network (names kept from the tutorial).

    ``hyperparameters`` chooses Dropout, initializer, optimizer and learning
    rate (the tutorial's by default).
    """
    X_input = Input(input_shape)
    X = X_input
    hidden_dtype = MIXED_BFLOAT16 if hyperparameters.bfloat16 else None  # None: Keras's default, float32
    if len(input_shape) == 3:  # a stack of frames: the author's lesson 6
        X = lesson_convolutions(X, hidden_dtype)
    for units in (512, 256, 64):
        X = _dense(units, "relu", hyperparameters.kernel_initializer, hidden_dtype)(X)
        if hyperparameters.dropout:
            X = Dropout(hyperparameters.dropout)(X)
    # Keras 3 rejects numpy integers for a layer size, and gymnasium gives one.
    if hyperparameters.dueling != "off":  # the author's lessons 3-5; "batch-mean" or "state-mean"
        X = dueling_q_values(
            X, int(action_space), hyperparameters.kernel_initializer, hyperparameters.dueling.removesuffix("-mean")
        )
    else:
        X = _dense(int(action_space), "linear", hyperparameters.kernel_initializer)(X)
    # "CartPole model" in the tutorial: TensorFlow refuses a space in the name
    # scope that training in a compiled function opens.
    model = Model(inputs=X_input, outputs=X, name="CartPole_model")
    compile_for_training(model, hyperparameters)
    return model


def _dense(units, activation, initializer, dtype=None):
    # The initializer goes by name, so each layer makes its own, as Keras's default does.
    try:
        return Dense(units, activation=activation, kernel_initializer=initializer, dtype=dtype)
    except ValueError:
        raise UserError(
            f"{flag_of('kernel_initializer')} {initializer!r} is not a Keras initializer "
            f"name (e.g. glorot_uniform, he_uniform)"
        ) from None


def compile_for_training(model, hyperparameters=DEFAULTS):
    """Compile ``model`` with the loss and optimizer of ``hyperparameters`` (MSE and Adam by default)."""
    hp = hyperparameters
    if hp.optimizer == "rmsprop":
        optimizer = keras.optimizers.RMSprop(learning_rate=hp.learning_rate, rho=hp.rho, epsilon=hp.optimizer_epsilon)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=hp.learning_rate, epsilon=hp.optimizer_epsilon)
    # A loss object, not the string "mse": Keras 3 saves "mse" to .h5 in a
    # form its own load_model cannot read back.
    loss = keras.losses.Huber() if hp.loss == "huber" else keras.losses.MeanSquaredError()
    model.compile(loss=loss, optimizer=optimizer)
    return model


def copy_of(model):
    """A second network of ``model``'s shape holding its weights (a target network)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


_BLAS_THREADS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")  # where a user chooses them


def use_one_blas_thread() -> None:
    """Run NumPy's matrix products (OpenBLAS) on one thread, unless the environment chose a number.

    Evaluation plays its greedy episodes through the network in NumPy, ten to
    a hundred states at a time.  Products that small gain nothing from a
    second thread, and where the cores are busy (``bench learning`` runs a
    worker per core) OpenBLAS's waiting threads spin against the other
    process: a forward pass of ten states took 2.4 ms instead of 0.17 ms.
    From 30 states up the sums run in another order on one thread than on
    two, so a Q-value can differ in its last bits (as NumPy's differ from
    TensorFlow's: :func:`q_values_in_numpy`); training does not use these
    products.  The limit holds for the rest of the process.
    """
    if any(os.environ.get(name) for name in _BLAS_THREADS_VARIABLES):
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def q_values_in_numpy(model) -> Callable[[np.ndarray], np.ndarray] | None:
    """Q-values from a snapshot of ``model``'s weights, computed in NumPy; None if it is no Dense stack.

    Evaluation plays thousands of greedy steps per training episode, ten
    states at a time.  A TensorFlow call costs about 0.5 ms whatever it
    computes; the same forward pass in NumPy costs about 0.1 ms.  Its numbers
    match TensorFlow's to float32 rounding (the sums run in another order), so
    an action can differ only where the two Q-values are within about 1e-6 of
    each other.  Dropout is the identity in inference, as in ``predict``.  A
    stack ending in the dueling head (its value stream, then its advantage
    stream, then the head) is computed as the head computes it.
    Later changes to the model's weights do not reach the snapshot.
    """
    layers, heads = [], [layer for layer in model.layers if isinstance(layer, DuelingHead)]
    for layer in model.layers:
        if isinstance(layer, (keras.layers.InputLayer, Dropout, DuelingHead)):
            continue
        if not (isinstance(layer, Dense) and layer.use_bias and layer.activation.__name__ in ("relu", "linear")):
            return None
        kernel, bias = (np.asarray(weight, dtype=np.float32) for weight in layer.get_weights())
        layers.append((kernel, bias, layer.activation.__name__ == "relu"))
    streams = [layers.pop(), layers.pop()][::-1] if heads else []  # [value, advantage], made in that order
    if heads and (streams[0][0].shape[1] != 1 or model.layers[-1] is not heads[0]):
        return None

    def q_values(states) -> np.ndarray:
        values = np.asarray(states, dtype=np.float32)
        for kernel, bias, relu in layers:
            values = values @ kernel + bias
            if relu:
                np.maximum(values, 0.0, out=values)
        if not streams:
            return values
        value, advantage = (values @ kernel + bias for kernel, bias, _ in streams)
        axis = None if heads[0].mixes_batch else -1
        return value + (advantage - advantage.mean(axis=axis, keepdims=True))

    return q_values


def save_model(model, path) -> None:
    """Save ``model`` to ``path`` atomically: write a uniquely named sibling file, then rename."""
    absl_log = logging.getLogger("absl")
    level = absl_log.level
    # Keras warns on every .h5 save that the format is legacy; the tutorial's
    # format is the point here, and the warning would interleave with training.
    absl_log.setLevel(logging.ERROR)
    try:
        with written_atomically(path, durable=True) as partial:
            model.save(partial)
    finally:
        absl_log.setLevel(level)


def load_model(path, state_size: int | tuple[int, ...], action_size: int):
    """Load a saved Q-network for predicting, checking it fits the environment.

    Raises UserError with a one-line explanation for a missing file, a file
    that is not a Keras model, or a network of the wrong shape.  A file from
    another Keras (the tutorial's own is Keras 2.2.4) loads too; one line
    says its training config was left out.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no model file at {path}; train one first with: python -m cartpole_dqn train --model {path}")
    try:
        # Keras warns about some odd files before it fails on them: the error says it once.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # safe_mode (Keras's default, spelt out): a Lambda layer's Python code
            # or a class from outside Keras is refused, never run.
            model = keras.models.load_model(path, compile=False, safe_mode=True)
            inputs, outputs = model.input_shape, model.output_shape
            other_version = foreign_models.other_keras_training_config(path)
    except Exception as exc:  # Keras, h5py and zipfile raise many types for a bad file
        raise UserError(f"{path} is not a readable Keras model ({_first_sentence(exc)})") from None
    state_shape = state_size if isinstance(state_size, tuple) else (state_size,)
    if not (tuple(inputs[1:]) == state_shape and len(outputs) == 2 and outputs[-1] == action_size):
        raise UserError(
            f"{path} holds a network of input {tuple(inputs)} and output {tuple(outputs)}; "
            f"CartPole needs input {(None, *state_shape)} and output (None, {action_size})"
        )
    if other_version:
        print(foreign_models.note_on_loading(path, other_version), flush=True)
    return foreign_models.with_usable_name(model)


def _first_sentence(exc: Exception) -> str:
    """The start of an exception's message, enough to say what is wrong in one line."""
    text = " ".join(str(exc).split())
    return text.split(". ")[0][:300] if text else type(exc).__name__
