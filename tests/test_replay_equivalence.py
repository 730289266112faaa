"""The batched replay computes what the tutorial's per-sample loop computes.

The tutorial builds each target with two ``model.predict`` calls per
transition and then calls ``fit`` once; ``DQNAgent.replay`` does both in one
compiled call.  Same model, same minibatch: same targets, same weight update.
"""

import random

import keras
import numpy as np
import pytest

from cartpole_dqn.agent import DQNAgent
from cartpole_dqn.hyperparameters import DEFAULTS
from cartpole_dqn.tutorial_reference import tutorial_targets


def fill_memory(agent, steps=300):
    """Random play into the agent's memory, stored the way run() stores it."""
    state, _ = agent.env.reset(seed=7)
    state = state.reshape(1, -1)
    for _ in range(steps):
        action = random.randrange(agent.action_size)
        next_state, reward, terminated, truncated, _ = agent.env.step(action)
        done = terminated or truncated
        next_state = next_state.reshape(1, -1)
        agent.remember(state, action, -10 if done else reward, next_state, done)
        state = agent.env.reset()[0].reshape(1, -1) if done else next_state


def as_arrays(minibatch):
    states, actions, rewards, next_states, dones = zip(*minibatch)
    return (np.concatenate(states).astype(np.float32), np.array(actions, np.int32),
            np.array(rewards, np.float32), np.concatenate(next_states).astype(np.float32),
            np.array(dones, bool))


@pytest.fixture(scope="module")
def trained_agent():
    """An agent whose model has moved away from its initial weights (targets then differ per action)."""
    agent = DQNAgent(DEFAULTS.replace(gamma=0.9), seed=3)
    fill_memory(agent)
    for _ in range(30):
        agent.replay()
    return agent


def test_batched_targets_equal_the_tutorials_per_sample_targets(trained_agent):
    minibatch = random.Random(0).sample(list(trained_agent.memory), 128)
    assert any(t[4] for t in minibatch) and not all(t[4] for t in minibatch), "need both kinds of transition"

    x_tutorial, y_tutorial = tutorial_targets(trained_agent.model, minibatch, trained_agent.gamma)
    arrays = as_arrays(minibatch)
    y_batched = trained_agent.replay_targets(*arrays)

    np.testing.assert_allclose(arrays[0], x_tutorial, atol=0)
    np.testing.assert_allclose(y_batched, y_tutorial, atol=1e-5)
    # targets really depend on the transitions: done rows hold the bare reward
    done_rows = np.flatnonzero(arrays[4])
    np.testing.assert_allclose(y_batched[done_rows, arrays[1][done_rows]], -10)


def test_one_replay_step_equals_one_fit_on_the_tutorials_targets(trained_agent):
    """With dropout's randomness switched off, replay's gradient step is fit's gradient step."""
    minibatch = random.Random(1).sample(list(trained_agent.memory), 32)
    arrays = as_arrays(minibatch)

    def copy_without_dropout():
        model = keras.models.clone_model(trained_agent.model)
        model.set_weights(trained_agent.model.get_weights())
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0
        # plain SGD: Adam's first step is sign(gradient), which hides small differences
        model.compile(loss=keras.losses.MeanSquaredError(), optimizer=keras.optimizers.SGD(0.05))
        return model

    tutorial_model = copy_without_dropout()
    x, y = tutorial_targets(tutorial_model, minibatch, trained_agent.gamma)
    tutorial_model.fit(x, y, batch_size=len(x), verbose=0)

    agent = DQNAgent(DEFAULTS.replace(gamma=trained_agent.gamma), seed=3)
    agent.model = copy_without_dropout()
    agent._replay_step(*arrays, agent.gamma)

    changed = False
    for ours, theirs, start in zip(agent.model.get_weights(), tutorial_model.get_weights(),
                                   trained_agent.model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
        changed |= not np.allclose(theirs, start)
    assert changed, "the step did not move the weights"
