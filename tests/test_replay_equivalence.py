"""The batched replay computes what the tutorial's per-sample loop computes.

The tutorial builds each target with two ``model.predict`` calls per
transition and then calls ``fit`` once; ``DQNAgent.replay`` does both in one
compiled call.  Same model, same minibatch: same targets, same weight update.
"""

import random

import keras
import numpy as np
import pytest

from cartpole_dqn.compiled import minibatch_arrays
from cartpole_dqn.hyperparameters import DEFAULTS, PRESETS
from cartpole_dqn.tutorial_reference import tutorial_replay, tutorial_targets
from conftest import fill_memory, seeded_agent


def trained_agent(hyperparameters):
    """An agent whose model has moved away from its initial weights (targets then differ per action)."""
    agent = seeded_agent(hyperparameters.replace(gamma=0.9, train_start=0), seed=3)
    fill_memory(agent)
    for _ in range(30):
        agent.replay()
    return agent


@pytest.mark.parametrize("preset", ["tutorial", "dqn-script"])
def test_batched_targets_equal_the_tutorials_per_sample_targets(preset):
    agent = trained_agent(PRESETS[preset])
    minibatch = random.Random(0).sample(list(agent.memory), 128)
    assert any(t[4] for t in minibatch) and not all(t[4] for t in minibatch), "need both kinds of transition"

    x_tutorial, y_tutorial = tutorial_targets(agent.model, minibatch, agent.gamma)
    arrays = minibatch_arrays(minibatch)
    y_batched = agent.network.targets(arrays, agent.gamma)

    np.testing.assert_allclose(arrays.states, x_tutorial, atol=0)
    np.testing.assert_allclose(y_batched, y_tutorial, atol=1e-5)
    # targets really depend on the transitions: done rows hold the bare reward
    done_rows = np.flatnonzero(arrays.dones)
    np.testing.assert_allclose(y_batched[done_rows, arrays.actions[done_rows]], arrays.rewards[done_rows])


def test_replay_trains_as_the_tutorials_replay():
    """With dropout's randomness switched off, replay's compiled call is the tutorial's predict and fit.

    Both agents start from the same weights and sample the same minibatch; the
    optimizer is plain SGD, since Adam's first step is sign(gradient), which
    would hide small differences.
    """
    source = trained_agent(DEFAULTS)

    def twin():
        model = keras.models.clone_model(source.model)
        model.set_weights(source.model.get_weights())
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0  # fit's dropout masks cannot be replayed; the arithmetic can
        model.compile(loss=keras.losses.MeanSquaredError(), optimizer=keras.optimizers.SGD(0.05))
        agent = seeded_agent(DEFAULTS.replace(gamma=source.gamma, batch_size=32), seed=3)
        agent.model = model
        agent.memory = source.memory.copy()
        return agent

    ours, tutorials = twin(), twin()
    random.seed(5)
    q_next = ours.replay()
    random.seed(5)
    tutorial_replay(tutorials, random.sample(tutorials.memory, tutorials.batch_size))

    changed = False
    for mine, theirs, start in zip(
        ours.model.get_weights(), tutorials.model.get_weights(), source.model.get_weights(), strict=True
    ):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
        changed |= not np.allclose(theirs, start)
    assert changed, "the step did not move the weights"
    assert ours.epsilon == tutorials.epsilon < 1.0  # each decayed once
    np.testing.assert_allclose(q_next, tutorials.model.predict(ours.memory[-1][3], verbose=0), atol=1e-5)
