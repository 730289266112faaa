"""The target network, Double DQN and time-limit bootstrapping (off in the tutorial's recipe).

The ``ddqn`` preset's batched targets equal the per-sample targets of the
author's DDQN lesson; the target network changes only when it is updated;
saving writes the online network alone.
"""

import random

import gymnasium as gym
import h5py
import numpy as np
import pytest

from cartpole_dqn import model as model_io
from cartpole_dqn.agent import DQNAgent
from cartpole_dqn.compiled import CompiledQNetwork, minibatch_arrays
from cartpole_dqn.hyperparameters import DEFAULTS, PRESETS
from cartpole_dqn.model import load_model
from cartpole_dqn.tutorial_reference import ddqn_lesson_targets
from conftest import fill_memory, seeded_agent

DDQN = PRESETS["ddqn"]
SMALL = DEFAULTS.replace(batch_size=8)


@pytest.fixture(scope="module")
def ddqn_agent():
    """A ddqn agent whose online network has moved away from its target network.

    Made in a seeded process: its weights, memory and minibatches must not depend on what earlier tests drew
    from the global random streams (with some weights the two networks pick the same next action everywhere).
    """
    agent = seeded_agent(DDQN.replace(gamma=0.9), seed=3)
    fill_memory(agent, steps=DDQN.train_start + 200)
    for _ in range(30):
        agent.replay()  # no episode ends here, so the target network keeps its first weights
    return agent


def _weights_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


def test_batched_ddqn_targets_equal_the_lessons_per_sample_targets(ddqn_agent):
    agent = ddqn_agent
    assert not _weights_equal(agent.model, agent.target_model)
    minibatch = random.Random(0).sample(list(agent.memory), 128)
    arrays = minibatch_arrays(minibatch)
    states, actions, rewards, next_states, dones = arrays
    assert dones.any() and not dones.all(), "need both kinds of transition"

    x_lesson, y_lesson = ddqn_lesson_targets(agent.model, agent.target_model, minibatch, agent.gamma)
    y_batched = agent.network.targets(arrays, agent.gamma)

    np.testing.assert_array_equal(states, x_lesson)
    np.testing.assert_allclose(y_batched, y_lesson, atol=1e-5)
    # Double DQN is not plain DQN with either network: the online argmax picks the target's value.
    rows = np.arange(len(actions))
    online_next = agent.model.predict(next_states, verbose=0)
    target_next = agent.target_model.predict(next_states, verbose=0)
    # Where both networks pick the same next action, Double DQN's target is the target network's max:
    # only a minibatch where they differ can tell the two apart.
    assert (online_next.argmax(axis=1) != target_next.argmax(axis=1))[~dones].any(), (
        "need next states where the online and the target network pick different actions"
    )
    for plain_next_value in (online_next.max(axis=1), target_next.max(axis=1)):
        plain = np.where(dones, rewards, rewards + agent.gamma * plain_next_value)
        assert not np.allclose(y_batched[rows, actions], plain, atol=1e-3)
    np.testing.assert_allclose(y_batched[dones, actions[dones]], rewards[dones])


def test_target_network_without_double_dqn_values_next_states_by_its_own_max(ddqn_agent):
    agent = DQNAgent(DDQN.replace(double_dqn=False, gamma=0.9), seed=3)
    agent.model.set_weights(ddqn_agent.model.get_weights())
    agent.target_model.set_weights(ddqn_agent.target_model.get_weights())
    batch = minibatch_arrays(random.Random(1).sample(list(ddqn_agent.memory), 64))
    states, actions, rewards, next_states, dones = batch
    y = agent.network.targets(batch, agent.gamma)
    next_value = agent.target_model.predict(next_states, verbose=0).max(axis=1)
    expected = np.where(dones, rewards, rewards + agent.gamma * next_value)
    np.testing.assert_allclose(y[np.arange(len(actions)), actions], expected, atol=1e-5)


def test_the_tutorials_recipe_has_no_target_network():
    assert DQNAgent(seed=0).target_model is None


def _agent_with_memory(hyperparameters, agent_class=DQNAgent):
    agent = agent_class(hyperparameters, seed=0)
    fill_memory(agent, steps=50)
    return agent


class RecordingUpdates(DQNAgent):
    """A DQNAgent that records, whenever it makes a target update of its own, what ``seen(agent)`` returns."""

    def __init__(self, *args, seen=lambda agent: True, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen, self.updates = seen, []

    def update_target_model(self):
        self.updates.append(self.seen(self))
        super().update_target_model()


def test_hard_update_copies_the_online_network_every_n_replays_and_only_then():
    agent = _agent_with_memory(SMALL.replace(target_update_every=3))
    start = agent.target_model.get_weights()
    assert _weights_equal(agent.target_model, agent.model)  # starts as a copy
    for _ in range(2):
        agent.replay()
        assert all(np.array_equal(w, w0) for w, w0 in zip(agent.target_model.get_weights(), start, strict=True))
    assert not _weights_equal(agent.target_model, agent.model)
    agent.replay()
    assert _weights_equal(agent.target_model, agent.model)
    agent.replay()
    assert not _weights_equal(agent.target_model, agent.model)


def test_soft_update_moves_the_target_tau_of_the_way_at_each_update_only():
    agent = _agent_with_memory(SMALL.replace(target_update_every=2, tau=0.25))
    start = agent.target_model.get_weights()
    agent.replay()
    assert all(np.array_equal(w, w0) for w, w0 in zip(agent.target_model.get_weights(), start, strict=True))
    agent.replay()
    for target, online, old in zip(agent.target_model.get_weights(), agent.model.get_weights(), start, strict=True):
        np.testing.assert_allclose(target, 0.75 * old + 0.25 * online, rtol=1e-6, atol=1e-7)
    assert not _weights_equal(agent.target_model, agent.model)


def test_update_after_every_nth_episode():
    hyperparameters = SMALL.replace(EPISODES=5, target_update_every=2, target_update_unit="episodes")
    agent = RecordingUpdates(hyperparameters, seed=0, seen=lambda agent: len(agent.scores))
    agent.run()
    assert agent.updates == [2, 4]  # after the 2nd and the 4th episode, with every replay in between
    assert not _weights_equal(agent.target_model, agent.model)  # episode 5 trained on


def test_ddqn_preset_copies_the_target_after_every_episode():
    def target_equals_online(agent):
        return _weights_equal(agent.target_model, agent.model)

    agent = RecordingUpdates(DDQN.replace(EPISODES=3, train_start=0, batch_size=8), seed=0, seen=target_equals_online)
    agent.run()
    assert agent.updates == [False] * 3  # the online network had trained, and was copied, each time
    assert _weights_equal(agent.target_model, agent.model)


def test_ddqn_soft_bootstrap_moves_the_target_half_a_percent_after_every_replay():
    agent = _agent_with_memory(PRESETS["ddqn-soft-bootstrap"].replace(train_start=0, batch_size=8))
    for _ in range(2):
        before = agent.target_model.get_weights()
        agent.replay()
        for target, online, old in zip(
            agent.target_model.get_weights(), agent.model.get_weights(), before, strict=True
        ):
            np.testing.assert_allclose(target, 0.995 * old + 0.005 * online, rtol=1e-6, atol=1e-7)
    assert not _weights_equal(agent.target_model, agent.model)


def test_an_update_after_every_replay_is_made_inside_the_training_call_with_the_same_numbers():
    """Fused into the gradient step's compiled call, the soft update gives the weights the separate call gives."""
    hyperparameters = PRESETS["ddqn-soft-bootstrap"].replace(train_start=0, batch_size=8)
    fused = _agent_with_memory(hyperparameters, RecordingUpdates)
    assert fused.network.update_target_every_step
    separate = CompiledQNetwork(
        model_io.compile_for_training(model_io.copy_of(fused.model), hyperparameters),
        model_io.copy_of(fused.target_model),
        double_dqn=True,
        tau=0.005,
    )
    for seed in range(3):
        minibatch = minibatch_arrays(random.Random(seed).sample(list(fused.memory), 8))
        upcoming = minibatch.next_states[:1]
        q_fused = fused.network.train_step_then_q(minibatch, fused.gamma, upcoming)
        q_separate = separate.train_step_then_q(minibatch, fused.gamma, upcoming)
        separate.update_target()
        np.testing.assert_array_equal(q_fused, q_separate)
        assert _weights_equal(fused.model, separate.model) and _weights_equal(fused.target_model, separate.target_model)
    fused.replay()
    assert fused.updates == []  # replay leaves the update to the compiled call


@pytest.mark.slow
def test_saving_writes_the_online_network_alone_and_test_plays_it(ddqn_agent, tmp_path, cli):
    path = tmp_path / "ddqn.h5"
    ddqn_agent.save(path)
    with h5py.File(path, "r") as saved:
        arrays = []
        saved["model_weights"].visititems(
            lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None
        )
    assert len(arrays) == len(ddqn_agent.model.get_weights()) == 8  # 4 Dense layers, no second network
    loaded = load_model(path, 4, 2)
    assert _weights_equal(loaded, ddqn_agent.model)
    assert not _weights_equal(loaded, ddqn_agent.target_model)
    result = cli("test", "--model", path, "--render", "none", "--episodes", 2, "--seed", 0)
    assert result.returncode == 0, result.stderr
    assert "test: reached 500 in" in result.stdout


@pytest.mark.slow
def test_huber_model_saves_and_plays(tmp_path, cli):
    path = tmp_path / "huber.h5"
    agent = DQNAgent(DDQN.replace(loss="huber"), seed=0)
    assert type(agent.model.loss).__name__ == "Huber"
    agent.save(path)
    result = cli("test", "--model", path, "--render", "none", "--episodes", 1)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("bootstrap, stored_dones", [(False, [True] * 3), (True, [])])
def test_time_limit_bootstrapping_stores_the_cut_as_no_end(bootstrap, stored_dones):
    # A CartPole cut at 5 steps: random play always meets the time limit first.
    agent = DQNAgent(
        DDQN.replace(EPISODES=3, bootstrap_time_limit=bootstrap), env=gym.make("CartPole-v1", max_episode_steps=5)
    )
    agent.run()
    assert agent.scores == [5, 5, 5]
    assert [done for (*_, done) in agent.memory if done] == stored_dones
    assert {reward for (_, _, reward, _, _) in agent.memory} == {1.0}
    # A fall still ends the target, with or without bootstrapping.
    assert agent.done_to_store(terminated=True, truncated=False)
    assert agent.done_to_store(terminated=True, truncated=True)
