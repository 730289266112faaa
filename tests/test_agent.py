"""DQNAgent follows the tutorial's schedule: what it stores, when it replays, when it saves."""

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from cartpole_dqn.agent import DQNAgent
from cartpole_dqn.hyperparameters import DEFAULTS
from cartpole_dqn.model import load_model
from conftest import REPO, seeded_agent


class BalancedPole(gym.Env):
    """A stand-in for CartPole whose pole never falls: every episode lasts 500 steps."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(4, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.full(4, self.t / 1000, np.float32), 1.0, False, self.t == 500, {}


class CountingReplays(DQNAgent):
    """Counts replays and hands act's arguments to a list."""

    def replay(self):
        self.replays += 1
        return super().replay()

    def act(self, state, q_values=None):
        self.acted.append((state, q_values))
        return super().act(state, q_values)


def test_run_replays_after_every_step_that_does_not_end_the_episode(capsys):
    agent = CountingReplays(DEFAULTS.replace(EPISODES=3, epsilon_decay=0.99), model_path="unused.h5")
    agent.replays, agent.acted = 0, []
    scores = agent.run()
    assert len(scores) == 3
    assert agent.replays == sum(scores) - len(scores)
    # the last transition of each episode carries the tutorial's -10 and done
    ends = [t for t in agent.memory if t[4]]
    assert len(ends) == 3 and all(t[2] == -10 for t in ends)
    assert all(t[2] == 1.0 for t in agent.memory if not t[4])
    # epsilon decays once per replay, and each line shows it as it stands after the episode
    epsilons = [1.0]
    for _ in range(agent.replays):
        epsilons.append(epsilons[-1] * 0.99)
    replays_so_far = np.cumsum(scores) - np.arange(1, 4)
    assert capsys.readouterr().out.splitlines() == [
        f"episode: {e}/3, score: {s}, e: {epsilons[n]:.2}"
        for e, s, n in zip(range(3), scores, replays_so_far, strict=True)
    ]


def test_replay_hands_act_the_q_values_of_the_updated_network():
    agent = CountingReplays(DEFAULTS.replace(EPISODES=2, epsilon=0.0), model_path="unused.h5")
    agent.replays, agent.acted = 0, []
    agent.run()
    first_steps = [0, agent.scores[0]]  # no replay before an episode's first action
    for step, (_state, q_values) in enumerate(agent.acted):
        assert (q_values is None) == (step in first_steps)
    # the hand-off is Q(state) of the network after the replay that returned it
    state = agent.acted[-1][0]
    agent.remember(state, 0, 1.0, state, False)
    np.testing.assert_array_equal(agent.replay(), agent.q_values(state))


def test_epsilon_decays_per_replay_and_stops_once_below_its_minimum():
    agent = seeded_agent(DEFAULTS.replace(epsilon=0.0105, epsilon_min=0.01, epsilon_decay=0.5))
    state = np.zeros((1, 4), np.float32)
    agent.remember(state, 0, 1.0, state, False)
    assert agent.epsilon == 0.0105  # remembering does not decay in the tutorial
    agent.replay()  # from the first transition on: train_start is 0
    assert agent.epsilon == pytest.approx(0.00525)  # the tutorial decays once more from above the minimum
    agent.replay()
    assert agent.epsilon == pytest.approx(0.00525)


def test_an_episode_reaching_500_saves_the_model(tmp_path, capsys):
    path = tmp_path / "cartpole-dqn.h5"
    agent = DQNAgent(DEFAULTS.replace(EPISODES=1), env=BalancedPole(), model_path=path)
    assert agent.run() == [500]
    assert agent.saved_episodes == [0]
    out = capsys.readouterr().out
    assert f"Saving trained model as {path}" in out
    saved = load_model(path, 4, 2)
    probe = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(saved(probe, training=False), agent.model(probe, training=False), atol=1e-6)


def test_act_is_greedy_without_exploration():
    agent = seeded_agent(DEFAULTS.replace(epsilon=0.0))
    states = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32)
    greedy = np.argmax(agent.model.predict(states, verbose=0), axis=1)
    assert len(set(greedy)) == 2  # both actions occur, so a constant act would fail
    assert [agent.act(s[None]) for s in states] == list(greedy)


def test_episode_hook_can_stop_training():
    agent = DQNAgent(DEFAULTS.replace(EPISODES=50))
    seen = []
    agent.episode_hooks.append(lambda a, episode, score: seen.append(episode) or episode == 1)
    agent.run()
    assert seen == [0, 1] and len(agent.scores) == 2


_THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def _printed_in_a_fresh_process(code, environment=None) -> list[str]:
    """The words ``code`` prints in a fresh Python, none of the thread variables set but those in ``environment``."""
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, **(environment or {}), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.slow
@pytest.mark.parametrize("environment, threads", [({}, 1), ({"TF_NUM_INTRAOP_THREADS": "2"}, 2)])
def test_a_prepared_process_runs_one_thread_per_operation_unless_told_otherwise(environment, threads):
    code = (
        "from cartpole_dqn.process import prepare_process; from cartpole_dqn.compiled import "
        "threads_per_operation; prepare_process(); print(threads_per_operation())"
    )
    assert _printed_in_a_fresh_process(code, environment)[-1] == str(threads)


@pytest.mark.parametrize(
    "code, environment, threads",
    [
        ("from cartpole_dqn.process import prepare_process; prepare_process()", {}, 1),
        ("from cartpole_dqn.agent import DQNAgent; DQNAgent()", {}, 1),
        ("from cartpole_dqn.process import prepare_process; prepare_process()", {"OPENBLAS_NUM_THREADS": "2"}, 2),
    ],
)
def test_numpys_matrix_products_run_on_one_thread_unless_the_environment_chose(code, environment, threads):
    code += "; import numpy, threadpoolctl; print(*sorted({i['num_threads'] for i in threadpoolctl.threadpool_info()}))"
    assert _printed_in_a_fresh_process(code, environment) == [str(threads)]


def _threading_after(code):
    """TensorFlow's intra- and inter-op thread settings in a fresh process after ``code``."""
    code += (
        "; import tensorflow as tf; t = tf.config.threading; "
        "print(t.get_intra_op_parallelism_threads(), t.get_inter_op_parallelism_threads())"
    )
    return _printed_in_a_fresh_process(code)[-2:]


def test_a_bare_agent_in_a_fresh_process_gets_the_command_lines_threading():
    bare = _threading_after("from cartpole_dqn.agent import DQNAgent; DQNAgent()")
    as_the_cli = _threading_after(
        "from cartpole_dqn.process import prepare_process; prepare_process(); "
        "from cartpole_dqn.agent import DQNAgent; DQNAgent()"
    )
    assert bare == as_the_cli == ["1", "0"]  # one thread per operation; inter-op: TensorFlow's default


def test_an_agent_keeps_a_thread_setting_the_script_chose():
    assert _threading_after(
        "import tensorflow as tf; tf.config.threading.set_intra_op_parallelism_threads(2); "
        "from cartpole_dqn.agent import DQNAgent; DQNAgent()"
    ) == ["2", "0"]


def test_replay_every_n_replays_after_steps_n_2n_and_acts_on_their_q_values():
    agent = CountingReplays(DEFAULTS.replace(EPISODES=3, epsilon=0.0, replay_every=3), model_path="unused.h5")
    agent.replays, agent.acted = 0, []
    scores = agent.run()
    # Steps 1 .. score - 1 of an episode do not end it; a replay follows those that are multiples of 3.
    assert agent.replays == sum((score - 1) // 3 for score in scores) > 0
    handed = [q_values is not None for _state, q_values in agent.acted]
    expected = [step > 0 and step % 3 == 0 for score in scores for step in range(score)]
    assert handed == expected
