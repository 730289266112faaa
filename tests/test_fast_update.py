"""fast_update does what Keras's Dropout and Adam do, with fewer TensorFlow ops.

Adam: the fused kernel gives Keras 3's Adam update, step after step.
Dropout(0.5): each unit kept with probability 1/2 and scaled by 2,
independently, a new mask every call, repeatable with a seed.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cartpole_dqn import fast_update
from cartpole_dqn.agent import DQNAgent


def small_network(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    x = keras.layers.Dense(32, activation="relu")(keras.layers.Dense(64, activation="relu")(inputs))
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def gradient_steps(seed, steps=5):
    """Deterministic gradients of different sizes and signs, as the replay would give."""
    rng = np.random.default_rng(seed)
    shapes = [v.shape for v in small_network().trainable_variables]
    return [[tf.constant(rng.normal(scale=10.0 ** rng.integers(-4, 1), size=s), tf.float32) for s in shapes]
            for _ in range(steps)]


def adam_weights(apply, optimizer_factory=lambda: keras.optimizers.Adam(learning_rate=0.01)):
    model = small_network()
    optimizer = optimizer_factory()
    variables = model.trainable_variables
    step = tf.function(lambda *gradients: apply(optimizer, list(gradients), variables))
    for gradients in gradient_steps(1):
        step(*gradients)
    return [v.numpy() for v in variables + optimizer.variables]


def keras_apply(optimizer, gradients, variables):
    optimizer.apply_gradients(zip(gradients, variables))


def test_fused_adam_gives_keras_adams_weights_moments_and_step_count():
    ours, keras_own = adam_weights(fast_update.apply_gradients), adam_weights(keras_apply)
    start = [v.numpy() for v in small_network().trainable_variables]
    assert len(ours) == len(keras_own)
    for a, b in zip(ours, keras_own):
        # float32 rounding of 1 - beta differs in the last bit between the two; a step moves
        # a weight by up to the learning rate, 1e-2, and the two agree to 1e-6 after five
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert ours[len(start)] == 5  # optimizer.iterations, counted as Keras counts
    assert any(not np.allclose(a, b) for a, b in zip(ours, start)), "the steps did not move the weights"


@pytest.mark.parametrize("optimizer_factory", [lambda: keras.optimizers.Adam(0.01, amsgrad=True),
                                               lambda: keras.optimizers.Adam(0.01, clipnorm=1.0),
                                               lambda: keras.optimizers.RMSprop(0.01)])
def test_other_optimizers_are_left_to_keras(optimizer_factory):
    ours = adam_weights(fast_update.apply_gradients, optimizer_factory)
    for a, b in zip(ours, adam_weights(keras_apply, optimizer_factory)):
        np.testing.assert_array_equal(a, b)


def dropout_outputs(rate, calls=1, seed=0, batch=128):
    """What training_forward passes on from a 512-wide layer of ones (ReLU(1) = 1) through Dropout(rate)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((1,))
    hidden = keras.layers.Dense(512, activation="relu", kernel_initializer="ones")(inputs)
    model = keras.Model(inputs, keras.layers.Dropout(rate)(hidden))
    forward = tf.function(lambda x: fast_update.training_forward(model, x))
    ones = tf.ones((batch, 1))
    return [forward(ones).numpy() for _ in range(calls)]


def test_half_dropout_keeps_each_unit_with_probability_one_half_and_doubles_it():
    [out] = dropout_outputs(0.5)
    assert set(np.unique(out)) == {0.0, 2.0}
    kept = out == 2.0
    # 65,536 units: the kept fraction of a fair coin is 0.5 +- 0.002 (one sigma)
    assert abs(kept.mean() - 0.5) < 0.01
    # every bit position of the random words is fair, and neighbours are independent
    assert np.all(np.abs(kept.mean(axis=0) - 0.5) < 0.2)
    assert abs(np.corrcoef(kept[:, :-1].ravel(), kept[:, 1:].ravel())[0, 1]) < 0.02


def test_half_dropout_draws_a_new_mask_each_call_and_repeats_with_the_seed():
    first, second = dropout_outputs(0.5, calls=2)
    assert not np.array_equal(first, second)
    assert 0.45 < np.mean(first == second) < 0.55  # independent masks agree on half the units
    again = dropout_outputs(0.5, calls=2)
    np.testing.assert_array_equal(again[0], first)
    np.testing.assert_array_equal(again[1], second)
    assert not np.array_equal(dropout_outputs(0.5, seed=1)[0], first)


def test_other_dropout_rates_use_keras_dropout():
    [out] = dropout_outputs(0.25)
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert abs(np.mean(out > 0) - 0.75) < 0.01
    [out] = dropout_outputs(0.0)
    np.testing.assert_array_equal(out, 1.0)


def test_a_later_dropout_layer_gets_its_own_mask():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((1,))
    x = keras.layers.Dropout(0.5)(keras.layers.Dense(64, activation="relu", kernel_initializer="ones")(inputs))
    # this layer ignores the first mask (zero weights) and outputs ones, which the second Dropout masks
    x = keras.layers.Dense(32, activation="relu", kernel_initializer="zeros", bias_initializer="ones")(x)
    model = keras.Model(inputs, keras.layers.Dropout(0.5)(x))
    out = fast_update.training_forward(model, tf.ones((256, 1))).numpy()
    assert set(np.unique(out)) == {0.0, 2.0}
    assert abs(np.mean(out == 2.0) - 0.5) < 0.02


def test_the_tutorial_network_without_dropout_randomness_is_its_inference_pass():
    agent = DQNAgent(seed=0)
    states = tf.constant(np.random.default_rng(0).normal(size=(64, 4)), tf.float32)
    masked = [fast_update.training_forward(agent.model, states).numpy() for _ in range(2)]
    assert not np.allclose(masked[0], masked[1]), "Dropout(0.5) is active in training"
    for layer in agent.model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    np.testing.assert_allclose(fast_update.training_forward(agent.model, states).numpy(),
                               agent.model(states, training=False).numpy(), rtol=1e-6)
