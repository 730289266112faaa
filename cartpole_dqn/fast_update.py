"""Two pieces of Keras's training step, redone with a handful of TensorFlow ops.

Profiling ``DQNAgent.replay`` (BENCHMARKS.md) showed that after the matrix
products, its time goes to two things that are cheap in arithmetic but
costly in TensorFlow operations:

* Dropout: Keras draws one float uniform per unit (106,496 per minibatch
  for the tutorial's 512-256-64 network), a Philox call per layer.  A
  Dropout(0.5) mask needs one random *bit* per unit; ``training_forward``
  draws 32 times fewer random numbers, once for all layers, and unpacks
  their bits.  Each unit is still kept with probability exactly 1/2 and
  scaled by 2, independently: the same Dropout, from a different stream of
  random numbers.  Other rates go through Keras's own Dropout.
* Adam: Keras 3 runs its update as ~15 small ops per weight tensor.
  ``apply_gradients`` hands plain Adam to TensorFlow's fused
  ``ResourceApplyAdam`` kernel (the one tf.keras 2 used): one op per weight
  tensor, the same update formula as Keras 3's Adam.  Other optimizers go
  through Keras.

``tests/test_fast_update.py`` checks both against Keras.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

# Dropout rate whose masks are random bits: keep a unit when its bit is 1.
BIT_MASK_RATE = 0.5
_BITS_PER_WORD = 32
_BIT_POSITIONS = np.arange(_BITS_PER_WORD, dtype=np.uint32)


def training_forward(model, inputs):
    """``model(inputs, training=True)`` for a Sequential-like stack of Dense and Dropout layers.

    Dropout(0.5) layers share one draw of random bits per call, seeded from
    the first such layer's own Keras seed generator (so
    ``keras.utils.set_random_seed`` makes runs repeatable, as before).
    """
    layers = model.layers[1:]  # after the Input layer
    bit_layers = [i for i, layer in enumerate(layers) if _uses_bit_mask(layer)]
    masks = {}
    if bit_layers:
        widths = [_width_before(layers, i) for i in bit_layers]
        seed = layers[bit_layers[0]].seed_generator.next()
        masks = dict(zip(bit_layers, _half_masks(tf.shape(inputs)[0], widths, seed)))
    x = inputs
    for i, layer in enumerate(layers):
        x = x * masks[i] if i in masks else layer(x, training=True)
    return x


def _uses_bit_mask(layer):
    return isinstance(layer, keras.layers.Dropout) and layer.rate == BIT_MASK_RATE and layer.noise_shape is None


def _width_before(layers, index):
    """Units of the Dense layer feeding the Dropout at ``index``."""
    return next(layer.units for layer in reversed(layers[:index]) if isinstance(layer, keras.layers.Dense))


def _half_masks(batch, widths, seed):
    """One (batch, width) mask per width: 0 or 2 (kept and rescaled), each with probability 1/2."""
    words = -(-sum(widths) // _BITS_PER_WORD)
    bits = tf.random.stateless_uniform([batch, words], seed=seed, minval=None, maxval=None, dtype=tf.uint32)
    unpacked = tf.bitwise.bitwise_and(tf.bitwise.right_shift(bits[:, :, None], _BIT_POSITIONS), 1)
    keep = tf.reshape(unpacked, [batch, words * _BITS_PER_WORD])[:, :sum(widths)]
    scale = 1.0 / (1.0 - BIT_MASK_RATE)
    return tf.split(tf.cast(keep, tf.float32) * scale, widths, axis=1)


def apply_gradients(optimizer, gradients, variables):
    """``optimizer.apply_gradients``, through TensorFlow's fused kernel for plain Adam."""
    if not _is_plain_adam(optimizer):
        optimizer.apply_gradients(zip(gradients, variables))
        return
    if not optimizer.built:
        optimizer.build(variables)
    # Keras 3's Adam: alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), t = iterations + 1;
    # m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2); w -= alpha m / (sqrt(v) + epsilon).
    step = tf.cast(optimizer.iterations + 1, tf.float32)
    beta_1 = tf.constant(optimizer.beta_1, tf.float32)
    beta_2 = tf.constant(optimizer.beta_2, tf.float32)
    learning_rate = tf.cast(optimizer.learning_rate, tf.float32)
    epsilon = tf.constant(optimizer.epsilon, tf.float32)
    beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
    for gradient, variable in zip(gradients, variables):
        slot = optimizer._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=optimizer._momentums[slot].handle, v=optimizer._velocities[slot].handle,
            beta1_power=beta_1_power, beta2_power=beta_2_power, lr=learning_rate, beta1=beta_1, beta2=beta_2,
            epsilon=epsilon, grad=gradient)
    optimizer.iterations.assign_add(1)


def _is_plain_adam(optimizer):
    """Adam with none of the extras (amsgrad, weight decay, clipping, EMA, ...) the fused kernel lacks."""
    if type(optimizer) is not keras.optimizers.Adam:
        return False
    extras = ("weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "loss_scale_factor",
              "gradient_accumulation_steps")
    return not optimizer.amsgrad and not optimizer.use_ema and all(getattr(optimizer, key) is None for key in extras)
