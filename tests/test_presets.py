"""The two recipes: the tutorial's README (default) and the repository's Cart_Pole_game_DQN.py.

The ``dqn-script`` preset must build exactly that script's network and
optimizer, wait for 1000 transitions before replaying, decay epsilon as it
remembers, and not punish an episode for reaching the time limit.
"""

import gymnasium as gym
import keras
import numpy as np
import pytest

from cartpole_dqn.cli import build_parser
from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import DEFAULTS, PRESETS, hyperparameters_from
from cartpole_dqn.model import OurModel
from conftest import seeded_agent

SCRIPT = PRESETS["dqn-script"]
STATE = np.zeros((1, 4), dtype=np.float32)


def _dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_dqn_script_preset_builds_that_network_and_optimizer():
    model = OurModel(input_shape=(4,), action_space=2, hyperparameters=SCRIPT)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer"] + ["Dense"] * 4  # no Dropout
    dense = _dense_layers(model)
    assert [layer.units for layer in dense] == [512, 256, 64, 2]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "relu", "linear"]
    assert all(isinstance(layer.kernel_initializer, keras.initializers.HeUniform) for layer in dense)
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.RMSprop)
    assert float(optimizer.learning_rate) == pytest.approx(0.00025)
    assert (optimizer.rho, optimizer.epsilon) == (0.95, 0.01)
    assert isinstance(model.loss, keras.losses.MeanSquaredError)


def test_tutorial_network_is_unchanged_by_default():
    model = OurModel(input_shape=(4,), action_space=2, hyperparameters=DEFAULTS.replace(learning_rate=0.002))
    assert [type(layer).__name__ for layer in model.layers] == (["InputLayer"] + ["Dense", "Dropout"] * 3 + ["Dense"])
    assert all(layer.rate == 0.5 for layer in model.layers if isinstance(layer, keras.layers.Dropout))
    assert all(isinstance(layer.kernel_initializer, keras.initializers.GlorotUniform) for layer in _dense_layers(model))
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.002)


def _train_args(*flags):
    return hyperparameters_from(build_parser().parse_args(["train", *flags]))


def test_preset_gives_the_base_values_and_each_given_flag_overrides_one():
    assert _train_args() == DEFAULTS
    assert _train_args("--preset", "dqn-script") == SCRIPT
    # A flag wins even when it repeats the tutorial's value.
    assert _train_args("--preset", "dqn-script", "--dropout", "0.5", "--episodes", "7") == SCRIPT.replace(
        dropout=0.5, EPISODES=7
    )
    assert _train_args("--train-start", "100", "--optimizer", "rmsprop") == DEFAULTS.replace(
        train_start=100, optimizer="rmsprop"
    )


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"train_start": 2000}, "--train-start"),
        ({"optimizer": "sgd"}, "--optimizer must be one of adam, rmsprop"),
        ({"dropout": 1.0}, "--dropout"),
        ({"time_limit_reward": "none"}, "--time-limit-reward"),
        ({"double_dqn": True}, "--double-dqn needs a target network: give --target-update-every N"),
        ({"bootstrap_time_limit": True}, "--bootstrap-time-limit needs --time-limit-reward plain"),
        ({"target_update_every": -1}, "--target-update-every must be a whole number of at least 0"),
        ({"tau": 0.0}, "--tau must be above 0 and at most 1"),
        ({"tau": 1.5}, "--tau must be above 0 and at most 1"),
        ({"loss": "mae"}, "--loss must be one of mse, huber"),
    ],
)
def test_impossible_values_are_one_line_errors(changes, message):
    with pytest.raises(UserError, match=message):
        DEFAULTS.replace(**changes).validated()


def test_ddqn_preset_is_the_authors_ddqn_lesson():
    """Cartpole_DDQN_TF2.py's values, spelled out (its 4000-step time limit is not taken)."""
    ddqn = PRESETS["ddqn"]
    assert (
        ddqn.dropout,
        ddqn.kernel_initializer,
        ddqn.optimizer,
        ddqn.learning_rate,
        ddqn.rho,
        ddqn.optimizer_epsilon,
        ddqn.loss,
    ) == (0.0, "he_uniform", "rmsprop", 0.00025, 0.95, 0.01, "mse")
    assert (
        ddqn.memory_size,
        ddqn.gamma,
        ddqn.epsilon,
        ddqn.epsilon_min,
        ddqn.epsilon_decay,
        ddqn.epsilon_decay_at,
        ddqn.batch_size,
        ddqn.train_start,
    ) == (2000, 0.95, 1.0, 0.01, 0.999, "remember", 32, 1000)
    assert (ddqn.done_reward, ddqn.time_limit_reward, ddqn.bootstrap_time_limit) == (-100.0, "plain", False)
    assert (ddqn.target_update_every, ddqn.target_update_unit, ddqn.tau, ddqn.double_dqn) == (1, "episodes", 1.0, True)


def test_ddqn_soft_bootstrap_is_ddqn_with_the_options_that_kept_it_learned():
    """The combination the seed study measured: these changes to ddqn, and no others."""
    assert PRESETS["ddqn-soft-bootstrap"].differences(PRESETS["ddqn"]) == {
        "memory_size": 20000,
        "gamma": 0.99,
        "epsilon_min": 0.02,
        "target_update_unit": "replays",
        "tau": 0.005,
        "bootstrap_time_limit": True,
    }


def test_ddqn_quick_is_ddqn_soft_bootstrap_replaying_every_4th_step():
    """The recipe the quick study measured: these changes to ddqn-soft-bootstrap, and no others."""
    assert PRESETS["ddqn-quick"].differences(PRESETS["ddqn-soft-bootstrap"]) == {
        "replay_every": 4,
        "batch_size": 64,
        "learning_rate": 0.002,
        "tau": 0.02,
    }


def test_ddqn_steady_is_ddqn_soft_bootstrap_with_minibatches_of_64():
    """The recipe the steady study measured: this change to ddqn-soft-bootstrap, and no other."""
    assert PRESETS["ddqn-steady"].differences(PRESETS["ddqn-soft-bootstrap"]) == {"batch_size": 64}


def test_switches_override_a_preset_both_ways():
    assert _train_args("--preset", "ddqn", "--no-double-dqn") == PRESETS["ddqn"].replace(double_dqn=False)
    assert _train_args("--target-update-every", "100", "--double-dqn", "--loss", "huber") == DEFAULTS.replace(
        target_update_every=100, double_dqn=True, loss="huber"
    )


def test_train_help_shows_each_presets_values(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--double-dqn, --no-double-dqn" in help_text
    lessons = "dueling-ddqn: {0}; d3qn-egreedy: {0}; per-d3qn: {0}; per-d3qn-pixels: {0})"
    assert (
        "(default: False; ddqn: True; ddqn-soft-bootstrap: True; ddqn-quick: True; ddqn-steady: True; "
        + lessons.format(True)
        in help_text
    )
    assert (
        "(default: 128; ddqn: 32; ddqn-soft-bootstrap: 32; ddqn-quick: 64; ddqn-steady: 64; " + lessons.format(32)
        in help_text
    )
    assert "(default: 1; ddqn-quick: 4)" in help_text
    assert "(default: 0; ddqn: 1; ddqn-soft-bootstrap: 1; ddqn-quick: 1; ddqn-steady: 1; " in help_text
    assert "dueling-ddqn: 1; d3qn-egreedy: 1; per-d3qn: 1; per-d3qn-pixels: 4)" in help_text
    assert "(default: 0.95; ddqn-soft-bootstrap: 0.99; ddqn-quick: 0.99; ddqn-steady: 0.99)" in help_text


def test_unknown_initializer_is_a_one_line_error():
    with pytest.raises(UserError, match="--kernel-initializer 'nope' is not a Keras initializer"):
        OurModel(input_shape=(4,), action_space=2, hyperparameters=DEFAULTS.replace(kernel_initializer="nope"))


def _counting_replays(agent):
    """Replace replay's compiled call (gradient step, then Q of the next state) by a counter; return the calls."""
    calls = []

    def count(minibatch, gamma, upcoming):
        calls.append(len(minibatch.states))
        return np.zeros((1, agent.action_size))

    agent.network.train_step_then_q = count
    return calls


def test_dqn_script_replays_from_1000_transitions_and_decays_epsilon_in_remember():
    agent = seeded_agent(SCRIPT, seed=0)
    replays = _counting_replays(agent)
    for _ in range(999):
        agent.remember(STATE, 0, 1.0, STATE, False)
        agent.replay()
    assert (replays, agent.epsilon) == ([], 1.0)
    agent.remember(STATE, 0, 1.0, STATE, False)  # 1000 transitions: replay starts, epsilon not yet
    agent.replay()
    assert (replays, agent.epsilon) == ([128], 1.0)
    agent.remember(STATE, 0, 1.0, STATE, False)  # more than train_start: each remember decays
    assert agent.epsilon == pytest.approx(0.999)
    agent.replay()
    assert (replays, agent.epsilon) == ([128, 128], pytest.approx(0.999))  # replay does not decay
    agent.epsilon = 0.0009
    agent.remember(STATE, 0, 1.0, STATE, False)
    assert agent.epsilon == 0.0009  # already below epsilon_min 0.001


@pytest.mark.parametrize("preset, fell, time_limit", [("tutorial", -10, -10), ("dqn-script", -100, 1.0)])
def test_reward_of_the_last_step(preset, fell, time_limit):
    agent = seeded_agent(PRESETS[preset], seed=0)
    assert agent.reward_to_store(1.0, terminated=False, truncated=False) == 1.0
    assert agent.reward_to_store(1.0, terminated=True, truncated=False) == fell
    assert agent.reward_to_store(1.0, terminated=False, truncated=True) == time_limit
    # The script's test is the step index (499), so falling on the last step is no failure either.
    assert agent.reward_to_store(1.0, terminated=True, truncated=True) == time_limit


@pytest.mark.parametrize("time_limit, ending_reward", [(5, 1.0), (10_000, -100.0)])
def test_dqn_script_run_stores_plain_reward_at_the_time_limit_and_minus_100_for_a_fall(time_limit, ending_reward):
    # Random play (epsilon 1, no replay before 1000 transitions) in a CartPole
    # cut at 5 steps always meets the time limit; without a limit it always falls.
    agent = seeded_agent(SCRIPT.replace(EPISODES=3), env=gym.make("CartPole-v1", max_episode_steps=time_limit))
    agent.run()
    endings = [reward for (_, _, reward, _, done) in agent.memory if done]
    others = {reward for (_, _, reward, _, done) in agent.memory if not done}
    assert (endings, others) == ([ending_reward] * 3, {1.0})
