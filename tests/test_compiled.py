"""The fast path's call helper: the private flat entry when TensorFlow has it, the public call otherwise."""

import keras
import numpy as np
import pytest
from tensorflow.python.eager.polymorphic_function.concrete_function import ConcreteFunction

from cartpole_dqn import compiled
from cartpole_dqn.compiled import CompiledQNetwork, Minibatch
from cartpole_dqn.model import OurModel

RNG = np.random.default_rng(0)
MINIBATCH = Minibatch(
    RNG.normal(size=(16, 4)).astype(np.float32),
    RNG.integers(0, 2, 16).astype(np.int32),
    np.ones(16, np.float32),
    RNG.normal(size=(16, 4)).astype(np.float32),
    RNG.random(16) < 0.3,
)


def calls_through(monkeypatch, flat: bool):
    """Q-values, targets and Q after a training step, of one fresh network, with the given entry."""
    monkeypatch.setattr(compiled, "USE_FLAT_ENTRY", flat)
    model = OurModel((4,), 2)
    model.set_weights([np.full_like(w, 0.01 * (i + 1)) for i, w in enumerate(model.get_weights())])
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0  # no dropout masks: both runs must match exactly
    network = CompiledQNetwork(model)
    return (
        network.q_values(MINIBATCH.states),
        network.targets(MINIBATCH, 0.9),
        network.train_step_then_q(MINIBATCH, 0.9, MINIBATCH.next_states[:1]),
    )


def test_the_flat_entry_and_the_public_call_compute_the_same(monkeypatch):
    flat = calls_through(monkeypatch, flat=True)
    public = calls_through(monkeypatch, flat=False)
    for a, b in zip(flat, public, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(flat[0][:1], flat[2])  # the step moved the network


def test_this_tensorflow_has_the_flat_entry():
    # Fails loudly when a TensorFlow release renames it: the package then still
    # works through the public call, slower; compile_function says why.
    assert compiled.USE_FLAT_ENTRY


@pytest.mark.parametrize("replacement", [None, lambda self, tensors: None])
def test_a_missing_or_changed_flat_entry_falls_back_to_the_public_call(monkeypatch, replacement):
    if replacement is None:
        monkeypatch.delattr(ConcreteFunction, "_call_flat")
    else:
        monkeypatch.setattr(ConcreteFunction, "_call_flat", replacement)
    assert compiled._has_flat_entry() is False
