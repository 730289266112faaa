"""The author's lessons 3 to 5: each preset computes what the lesson's code computes, one sample at a time.

``dueling-ddqn`` (lesson 3): the dueling head's outputs and the replay's
targets; ``d3qn-egreedy`` (lesson 4): epsilon at every step and when replay
starts; ``per-d3qn`` (lesson 5): the priorities, the leaves a seeded sampler
draws, the targets and the errors, against :mod:`cartpole_dqn.lesson_reference`.
"""

import random

import numpy as np
import pytest

from cartpole_dqn.agent import DQNAgent
from cartpole_dqn.compiled import CompiledQNetwork, minibatch_arrays
from cartpole_dqn.dueling import DuelingHead
from cartpole_dqn.hyperparameters import PRESETS
from cartpole_dqn.lesson_reference import (
    LessonMemory,
    LessonSumTree,
    lesson4_epsilon,
    lesson5_epsilons,
    lesson_dueling_model,
    per_lesson_replay_targets,
)
from cartpole_dqn.model import load_model
from cartpole_dqn.prioritized_memory import PrioritizedMemory
from cartpole_dqn.training import checkpoint
from cartpole_dqn.tutorial_reference import ddqn_lesson_targets
from conftest import fill_memory, seeded_agent
from test_checkpoint import episode_lines, finish, kill_after, start

DUELING = PRESETS["dueling-ddqn"]


def test_each_lesson_is_the_one_before_with_its_change_spelled_out():
    """Against the scripts' values (lesson 2 is the ddqn preset; each keeps CartPole-v1's 500-step limit)."""
    assert DUELING.differences(PRESETS["ddqn"]) == {"dueling": "batch-mean"}
    assert PRESETS["d3qn-egreedy"].differences(DUELING) == {
        "train_start": 32,  # replay once the memory holds a minibatch
        "epsilon_decay_at": "act",
        "epsilon_decay_rate": 0.0005,  # 0.01 + 0.99 * exp(-0.0005 * step)
    }
    assert PRESETS["per-d3qn"].differences(DUELING) == {
        "memory_size": 10000,
        "train_start": 0,  # no check at all: replay from the first step, 32 draws from what there is
        "epsilon_decay_at": "act",
        "epsilon_decay": 0.9995,  # epsilon *= 1 - 0.0005 before each action (the exponential switch is misspelt)
        "prioritized_replay": True,
    }
    per = PRESETS["per-d3qn"]
    assert (per.per_alpha, per.per_offset, per.per_error_clip, per.importance_sampling) == (0.6, 0.01, 1.0, False)
    assert (per.per_beta, per.per_beta_increment) == (0.4, 0.001)  # declared in PER.py, unused there


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epsilon_decay_rate": 0.001}, "--epsilon-decay-rate needs --epsilon-decay-at act"),
        ({"importance_sampling": True}, "--importance-sampling needs --prioritized-replay"),
    ],
)
def test_lesson_options_out_of_place_are_refused(cli_error, changes, message):
    flags = [f"--{name.replace('_', '-')}" + ("" if value is True else f"={value}") for name, value in changes.items()]
    assert cli_error("train", *flags) == f"cartpole-dqn: error: {message}"


@pytest.fixture(scope="module")
def dueling_agent():
    """A dueling-ddqn agent whose online network has moved away from its target network, in a seeded process."""
    agent = seeded_agent(DUELING.replace(gamma=0.9), seed=3)
    fill_memory(agent, steps=DUELING.train_start + 200)
    for _ in range(30):
        agent.replay()
    return agent


def test_the_dueling_head_equals_the_lessons_lambda_head_on_a_minibatch(dueling_agent):
    states = minibatch_arrays(random.Random(0).sample(list(dueling_agent.memory), 32)).states
    theirs = lesson_dueling_model(dueling_agent.model)
    ours = dueling_agent.q_values(states)
    np.testing.assert_allclose(ours, theirs.predict(states, verbose=0), rtol=1e-6, atol=1e-6)
    # The batch-wide mean: a state's Q-values depend on its batch, both actions' by the same number.
    alone = np.concatenate([dueling_agent.q_values(states[i : i + 1]) for i in range(len(states))])
    shift = ours - alone
    assert np.abs(shift).max() > 1e-3
    np.testing.assert_allclose(shift[:, 0], shift[:, 1], atol=1e-5)
    assert (ours.argmax(axis=1) == alone.argmax(axis=1)).all()


def test_the_per_state_mean_is_each_states_own_and_the_same_as_a_batch_of_one(dueling_agent):
    agent = DQNAgent(DUELING.replace(dueling="state-mean"), seed=0)
    agent.model.set_weights(dueling_agent.model.get_weights())
    states = minibatch_arrays(list(dueling_agent.memory)[:16]).states
    alone = np.concatenate([lesson_dueling_model(agent.model).predict(s[None], verbose=0) for s in states])
    np.testing.assert_allclose(agent.q_values(states), alone, rtol=1e-6, atol=1e-6)


def test_dueling_ddqn_targets_equal_the_lessons_per_sample_targets(dueling_agent):
    agent = dueling_agent
    ended = [transition for transition in agent.memory if transition[4]]
    minibatch = ended[:4] + random.Random(1).sample([t for t in agent.memory if not t[4]], 28)  # both kinds
    random.Random(2).shuffle(minibatch)
    arrays = minibatch_arrays(minibatch)
    _, y_lesson = ddqn_lesson_targets(agent.model, agent.target_model, minibatch, agent.gamma)
    np.testing.assert_allclose(agent.network.targets(arrays, agent.gamma), y_lesson, rtol=1e-5, atol=1e-5)
    # States and next states in one pass of the network would mix their means: other targets.
    one_pass = CompiledQNetwork(agent.model, agent.target_model, double_dqn=True)
    one_pass.mixes_batch = False
    assert not np.allclose(one_pass.targets(arrays, agent.gamma), y_lesson, atol=1e-3)


class RecordingEpsilon(DQNAgent):
    """A DQNAgent that records the epsilon of each action it takes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epsilons: list[float] = []

    def act(self, state, q_values=None):
        self.epsilons.append(self.epsilon)
        return super().act(state, q_values)


def _epsilons_of_a_run(hyperparameters, episodes):
    agent = seeded_agent(hyperparameters.replace(EPISODES=episodes), seed=1, agent_class=RecordingEpsilon)
    agent.run()
    return agent, agent.epsilons


def test_d3qn_egreedy_sets_epsilon_before_every_action_from_the_run_s_step_count():
    agent, seen = _epsilons_of_a_run(PRESETS["d3qn-egreedy"], 4)
    steps = np.arange(1, sum(agent.scores) + 1)
    np.testing.assert_allclose(seen, lesson4_epsilon(steps), rtol=1e-12)
    # Replay as soon as the memory holds a minibatch: after every step from the 32nd that does not end an episode.
    step_ends = np.cumsum(agent.scores)
    replays = sum(1 for step in steps if step >= 32 and step not in step_ends)
    assert int(agent.model.optimizer.iterations.numpy()) == replays > 0


def test_per_d3qn_multiplies_epsilon_before_every_action_and_replays_from_the_first_step():
    agent, seen = _epsilons_of_a_run(PRESETS["per-d3qn"], 3)
    np.testing.assert_allclose(seen, lesson5_epsilons(sum(agent.scores)), rtol=1e-12)
    assert int(agent.model.optimizer.iterations.numpy()) == sum(agent.scores) - len(agent.scores)


def _filled(capacity, transitions):
    ours, theirs = PrioritizedMemory(capacity, 4), LessonMemory(capacity)
    for transition in transitions:
        ours.append(transition)
        theirs.store(transition)
    return ours, theirs


def _transitions(count, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (
            rng.normal(size=(1, 4)).astype(np.float32),
            int(rng.integers(2)),
            1.0,
            rng.normal(size=(1, 4)),
            bool(i % 9 == 8),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("capacity, stored", [(10000, 300), (7, 20)])
def test_the_sum_tree_adds_draws_and_updates_as_the_lessons_bit_for_bit(capacity, stored):
    """The same float additions in the same order: a non-power-of-2 tree, partly filled or wrapped round."""
    ours, theirs = _filled(capacity, _transitions(stored))
    np.testing.assert_array_equal(ours.tree, theirs.tree.tree)
    errors = np.random.default_rng(1)
    for seed in range(20):
        np.random.seed(seed)
        draw = ours.sample(32)
        np.random.seed(seed)
        leaves, minibatch = theirs.sample(32)
        np.testing.assert_array_equal(draw.leaves, leaves)
        np.testing.assert_array_equal(draw.minibatch.states, np.concatenate([t[0] for t in minibatch]))
        assert draw.weights is None and ours.beta == 0.4  # no importance sampling: beta is never touched
        abs_errors = np.abs(errors.normal(scale=2, size=32)).astype(np.float32)
        ours.update_priorities(draw.leaves, abs_errors)
        theirs.batch_update(leaves, abs_errors.copy())
        np.testing.assert_array_equal(ours.tree, theirs.tree.tree)
    assert len(np.unique(ours.tree[-capacity:])) > 5, "the priorities differ"


def test_per_d3qn_replay_equals_the_lessons_per_sample_replay():
    """Leaves drawn, targets, TD errors and the priorities they give, over replays that train in between."""
    agent = seeded_agent(PRESETS["per-d3qn"].replace(gamma=0.9), seed=3)
    fill_memory(agent, steps=300)
    theirs = LessonMemory(agent.memory.capacity)
    for i in range(len(agent.memory)):
        theirs.store(agent.memory[i])
    for seed in range(6):
        np.random.seed(seed)
        leaves, states, y_lesson, errors_lesson = per_lesson_replay_targets(
            agent.model, agent.target_model, theirs, agent.batch_size, agent.gamma
        )
        np.random.seed(seed)
        draw = agent.memory.sample(agent.batch_size)
        np.testing.assert_array_equal(draw.leaves, leaves)
        np.testing.assert_array_equal(draw.minibatch.states, states)
        np.testing.assert_allclose(agent.network.targets(draw.minibatch, agent.gamma), y_lesson, rtol=1e-5, atol=1e-5)
        upcoming = draw.minibatch.next_states[:1]
        _, errors = agent.network.prioritized_train_step_then_q(draw.minibatch, agent.gamma, upcoming, draw.weights)
        np.testing.assert_allclose(errors, errors_lesson, rtol=1e-5, atol=1e-5)
        agent.memory.update_priorities(draw.leaves, errors)
        np.testing.assert_allclose(agent.memory.tree, theirs.tree.tree, rtol=1e-6)
    assert (errors_lesson > 1 - 0.01).any() and (errors_lesson < 0.5).any(), "clipped and unclipped priorities"


def test_the_walk_never_ends_on_an_empty_leaf_and_otherwise_is_the_lessons():
    ours, theirs = _filled(10, _transitions(3))  # leaves 9, 10, 11; the empty leaves 15-18 lie to their left
    assert theirs.tree.get_leaf(0.0)[2] is None  # the lesson's walk goes into the empty subtree: his code stops there
    assert ours._leaves_at(np.array([0.0]))[0] == 9
    values = np.linspace(1e-9, ours.tree[0], 101)
    assert list(ours._leaves_at(values)) == [theirs.tree.get_leaf(v)[0] for v in values]


def test_importance_sampling_weights_and_beta_annealed_to_one():
    memory, _ = _filled(50, _transitions(40))
    memory.importance_sampling = True
    memory.update_priorities(np.arange(49, 89), np.linspace(0.0, 2.0, 40))
    np.random.seed(0)
    draw = memory.sample(32)
    priorities = memory.tree[draw.leaves]
    lowest = memory.tree[49:89].min()
    np.testing.assert_allclose(draw.weights, (priorities / lowest) ** -0.401, rtol=1e-6)
    assert memory.beta == pytest.approx(0.401) and draw.weights.max() <= 1
    for _ in range(700):
        memory.sample(32)
    assert memory.beta == 1.0


def test_a_leaf_drawn_twice_keeps_its_later_priority_as_the_lessons_loop():
    ours, theirs = _filled(7, _transitions(5))
    leaves = np.array([6, 8, 6, 7, 8, 6])
    errors = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.05], np.float32)
    ours.update_priorities(leaves, errors)
    theirs.batch_update(leaves, errors.copy())
    np.testing.assert_array_equal(ours.tree, theirs.tree.tree)


def test_memory_indexing_is_oldest_first_as_a_deque():
    transitions = _transitions(9)
    memory, _ = _filled(7, transitions)
    assert len(memory) == 7
    for i in (0, 3, -1):
        np.testing.assert_array_equal(memory[i][0], transitions[2:][i][0])
        assert memory[i][1:3] == transitions[2:][i][1:3]
    with pytest.raises(IndexError):
        memory[7]


def test_lesson_sum_tree_reference_stores_in_his_layout():
    tree = LessonSumTree(3)  # leaves 2, 3, 4: the first transition is the rightmost leaf of the walk
    tree.add(1.0, "a")
    assert tree.tree.tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_dueling_model_saves_and_loads_safely_as_a_plain_keras_file(dueling_agent, tmp_path, suffix):
    path = tmp_path / f"dueling{suffix}"
    dueling_agent.save(path)
    loaded = load_model(path, 4, 2)  # safe_mode: no Lambda, only the package's registered layer
    head = loaded.layers[-1]
    assert isinstance(head, DuelingHead) and head.mixes_batch
    states = minibatch_arrays(list(dueling_agent.memory)[:32]).states
    np.testing.assert_array_equal(loaded(states, training=False), dueling_agent.q_values(states))


@pytest.mark.slow
def test_test_plays_a_saved_dueling_model_and_refuses_the_lessons_lambda_file_in_one_line(
    dueling_agent, tmp_path, cli, cli_error
):
    dueling_agent.save(tmp_path / "dueling.h5")
    result = cli("test", "--model", "dueling.h5", "--render", "none", "--episodes", 2, "--seed", 0)
    assert result.returncode == 0, result.stderr
    assert "test: reached 500 in" in result.stdout
    lesson_dueling_model(dueling_agent.model).save(tmp_path / "lesson.h5")
    line = cli_error("test", "--model", "lesson.h5", "--render", "none", before_tensorflow=False)
    assert line.startswith("cartpole-dqn: error: lesson.h5 is not a readable Keras model (")


def test_a_checkpoint_restores_the_prioritized_memory_bit_for_bit(tmp_path):
    hyperparameters = PRESETS["per-d3qn"].replace(EPISODES=2, importance_sampling=True)
    agent = seeded_agent(hyperparameters, seed=5)
    agent.run()
    checkpoint.save(agent, tmp_path / "per.ckpt")
    state = {name: array.copy() for name, array in agent.memory.state().items()}
    assert state["position"].tolist() == [sum(agent.scores), sum(agent.scores)] and state["beta"] > 0.4
    agent.EPISODES, agent.resume_episode = 4, 2  # the same agent goes on: what a reloaded one must do
    expected = agent.run()[2:]

    random.seed(0)
    np.random.seed(0)  # the reloaded agent's streams come from the file, not from here
    reloaded = DQNAgent(hyperparameters.replace(EPISODES=4), seed=5)
    checkpoint.restore(reloaded, tmp_path / "per.ckpt")
    for name, array in state.items():
        np.testing.assert_array_equal(reloaded.memory.state()[name], array, err_msg=name)
    assert reloaded.run()[2:] == expected
    np.testing.assert_array_equal(reloaded.memory.tree, agent.memory.tree)
    assert reloaded.memory.beta == agent.memory.beta


@pytest.mark.slow
def test_a_killed_per_d3qn_run_resumes_as_the_uninterrupted_run(tmp_path):
    whole = start(tmp_path, "--model", "whole.h5", "--preset", "per-d3qn")
    kill_after(start(tmp_path, "--model", "killed.h5", "--preset", "per-d3qn"), 7)
    first = episode_lines(finish(whole))
    out = finish(start(tmp_path, "--model", "killed.h5", "--preset", "per-d3qn", "--resume"))
    head, *rest = out.splitlines()
    assert head.startswith("resumed from killed.ckpt after episode ")
    resumed_lines = episode_lines("\n".join(rest))
    assert resumed_lines == first[first.index(resumed_lines[0]) :] and len(resumed_lines) < len(first)
    whole_ckpt, killed_ckpt = (checkpoint.read(tmp_path / name)[1] for name in ("whole.ckpt", "killed.ckpt"))
    assert {name for name in whole_ckpt if name.startswith("prioritized_memory/")} == {
        f"prioritized_memory/{name}" for name in PrioritizedMemory(1, 4).state()
    }
    for name, array in whole_ckpt.items():  # weights, the optimizer, the tree and its transitions
        np.testing.assert_array_equal(killed_ckpt[name], array, err_msg=name)
