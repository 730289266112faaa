"""``cartpole-dqn bench`` runs end to end and ends with its machine-readable line;
the fast paths it measures compute what the tutorial computes.

Tiny step counts and batch 8 keep these fast; no test ever asserts a speed.
"""

import random
import re

import numpy as np

NUMBER = r"\d+(\.\d+)?"
BENCH_LINE = re.compile(
    rf"bench: steps_per_s={NUMBER} tutorial_steps_per_s={NUMBER} speedup={NUMBER} loop_overhead={NUMBER}")
LEARNING_LINE = re.compile(
    r"learning: solved=\d+/2 median_first500_episode=(\d+(\.\d+)?|none) "
    r"median_seconds=(\d+\.\d|none) median_test_500s=(\d+(\.\d+)?|none)/20")


def test_speed_benchmark_ends_with_machine_readable_line(cli):
    result = cli("bench", "--steps", 20, "--tutorial-steps", 1, "--updates", 2, "--batch-size", 8)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert BENCH_LINE.fullmatch(lines[-1]), lines[-1]
    assert "not timed" in result.stdout  # the warm-up is announced and excluded
    assert "threads: 1 per TensorFlow operation" in result.stdout  # DQNAgent's setting, stated


def test_learning_benchmark_prints_one_row_per_seed_and_summary(cli, tmp_path):
    result = cli("bench", "--learning", "--seeds", 2, "--max-episodes", 2, "--batch-size", 8)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert LEARNING_LINE.fullmatch(lines[-1]), lines[-1]
    rows = [line.split() for line in lines if re.match(r"\s*\d+\s+\d+\s", line)]
    assert [row[0] for row in rows] == ["0", "1"]
    assert not list(tmp_path.glob("*.h5"))  # models go to a scratch folder, never the working one


def test_bench_rejects_non_positive_counts(cli):
    result = cli("bench", "--steps", 0)
    assert result.returncode == 2
    assert result.stderr.strip() == "cartpole-dqn: error: --steps must be a positive whole number, got 0"


def test_replay_hands_act_the_q_values_of_the_updated_model():
    """replay computes Q(next state) in its own compiled call; act must see what a fresh forward pass sees."""
    from cartpole_dqn.agent import DQNAgent
    from cartpole_dqn.hyperparameters import DEFAULTS

    agent = DQNAgent(DEFAULTS.replace(batch_size=8), seed=0)
    state = agent._reset(first=True)
    for action in (0, 1, 0, 1):
        next_state, reward, terminated, truncated, _ = agent.env.step(action)
        next_state = np.reshape(next_state, [1, agent.state_size])
        agent.remember(state, action, reward, next_state, terminated or truncated)
        state = next_state
    agent.replay()
    cached_state, cached_q = agent._next_q
    assert cached_state is state
    np.testing.assert_array_equal(cached_q, agent._q_values(state).numpy())
    agent.epsilon = 0.0
    agent.act(state)
    assert agent._next_q is None  # used once, then dropped


def test_replay_trains_as_the_tutorials_replay_without_dropout():
    """replay's single compiled call (update + next Q) = tutorial_replay's per-sample predict and fit."""
    import keras

    from cartpole_dqn.agent import DQNAgent
    from cartpole_dqn.tutorial_reference import tutorial_replay

    rng = np.random.default_rng(0)
    transitions = [(rng.normal(size=(1, 4)).astype(np.float32), int(rng.integers(2)), 1.0,
                    rng.normal(size=(1, 4)).astype(np.float32), bool(rng.random() < 0.3)) for _ in range(16)]
    agents = []
    for _ in range(2):
        agent = DQNAgent(seed=1)
        for layer in agent.model.layers:
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0  # fit's dropout masks cannot be replayed; the arithmetic can
        for transition in transitions:
            agent.remember(*transition)
        agents.append(agent)
    ours, tutorials = agents
    random.seed(5)
    ours.replay()
    random.seed(5)
    tutorial_replay(tutorials, random.sample(tutorials.memory, len(tutorials.memory)))
    for mine, theirs in zip(ours.model.get_weights(), tutorials.model.get_weights()):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
    assert ours.epsilon == tutorials.epsilon
