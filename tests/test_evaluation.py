"""Greedy evaluation during training: it never changes training, keeps the best model, can stop."""

import csv
import random
import re

import numpy as np
import pytest

from cartpole_dqn import output_files
from cartpole_dqn.environment import make_env
from cartpole_dqn.evaluation import Evaluator, best_model_path, evaluations_log_path, play_greedy
from cartpole_dqn.hyperparameters import DEFAULTS
from conftest import seeded_agent

SHORT_RUN = DEFAULTS.replace(EPISODES=3, batch_size=16)


def lean_policy(states):
    """Q-values that push the cart toward the side the pole swings: a fair hand-made policy."""
    states = np.asarray(states)
    return np.stack([np.zeros(len(states)), states[:, 3]], axis=1)


def train(evaluator=None, seed=3):
    agent = seeded_agent(SHORT_RUN, seed=seed)
    if evaluator is not None:
        agent.episode_hooks.append(evaluator)
    agent.run()
    return agent


def scripted(evaluator, *runs):
    """Make ``evaluator`` report the given greedy scores, one list per evaluation."""
    runs = list(runs)
    evaluator.evaluate = lambda agent: runs.pop(0)
    return evaluator


class SavesRecorder:
    """Stands in for the agent when only the saves matter."""

    def __init__(self):
        self.saved = []

    def save(self, path):
        self.saved.append(path)


def test_lockstep_greedy_play_scores_like_one_episode_at_a_time():
    seeds = [11, 12, 13]
    together = play_greedy(lean_policy, [make_env() for _ in seeds], seeds)
    one_by_one = [play_greedy(lean_policy, [make_env()], [seed])[0] for seed in seeds]
    assert together == one_by_one
    assert len(set(together)) > 1  # the episodes really differ, so a mix-up would show


def test_evaluation_does_not_change_the_training_trajectory(tmp_path):
    plain = train()
    evaluator = Evaluator(tmp_path / "best.h5", episodes=2, every=1)
    evaluated = train(evaluator)
    assert len(evaluator.records) == SHORT_RUN.EPISODES  # it evaluated after every episode
    assert evaluated.scores == plain.scores
    assert evaluated.epsilon == plain.epsilon
    for ours, theirs in zip(evaluated.model.get_weights(), plain.model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_evaluation_leaves_the_global_random_streams_alone(tmp_path):
    agent = seeded_agent(SHORT_RUN, seed=5)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    Evaluator(tmp_path / "best.h5", episodes=3, every=1)(agent, 0, 10)
    assert random.getstate() == python_state
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1]) and after[2:] == numpy_state[2:]


def test_best_model_is_saved_only_when_the_mean_improves(tmp_path, capsys):
    best = tmp_path / "best.h5"
    evaluator = scripted(Evaluator(best, episodes=2, every=1, log_path=tmp_path / "evals.csv"),
                         [10, 20], [5, 5], [500, 20], [500, 20])
    agent = SavesRecorder()
    for episode in range(4):
        assert evaluator(agent, episode, 10) is False
    assert agent.saved == [best, best]  # first evaluation, then the improvement to 260
    assert [r.saved for r in evaluator.records] == [True, False, True, False]  # a tie is no improvement
    assert evaluator.best_mean == 260
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["eval: mean=15.0 at500=0/2 best=15.0", "eval: mean=5.0 at500=0/2 best=15.0",
                     "eval: mean=260.0 at500=1/2 best=260.0", "eval: mean=260.0 at500=1/2 best=260.0"]
    with open(tmp_path / "evals.csv") as log:
        rows = list(csv.DictReader(log))
    assert [(row["episode"], row["mean"], row["saved"]) for row in rows] == [
        ("0", "15.0", "True"), ("1", "5.0", "False"), ("2", "260.0", "True"), ("3", "260.0", "False")]


def test_evaluation_runs_after_a_500_and_every_k_episodes(tmp_path):
    evaluator = scripted(Evaluator(tmp_path / "best.h5", every=3), *[[1]] * 10)
    agent = SavesRecorder()
    for episode, score in enumerate([20, 500, 30, 40, 50, 60]):
        evaluator(agent, episode, score)
    assert [r.episode for r in evaluator.records] == [1, 2, 5]


def test_an_interrupted_best_save_keeps_the_previous_best(tmp_path, monkeypatch):
    best = tmp_path / "cartpole-dqn-best.h5"
    agent = seeded_agent(SHORT_RUN, seed=0)
    evaluator = scripted(Evaluator(best, episodes=1, every=1), [10], [20])
    evaluator(agent, 0, 10)
    before = best.read_bytes()

    def interrupted(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(output_files.os, "replace", interrupted)
    agent.model.get_layer(index=1).kernel.assign_add(np.ones((4, 512), np.float32))
    with pytest.raises(KeyboardInterrupt):
        evaluator(agent, 1, 10)
    assert best.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [best.name]  # no partial file left behind


def test_the_hook_stops_training_once_the_threshold_is_reached(tmp_path):
    evaluator = scripted(Evaluator(tmp_path / "best.h5", episodes=2, every=1, stop_at=475),
                         [500, 400], [500, 460], [9, 9])
    agent = train(evaluator)
    assert len(agent.scores) == 2  # stopped after the second episode's evaluation (mean 480)
    assert evaluator.stopped_at is evaluator.records[-1]


def test_derived_file_names():
    assert str(best_model_path("runs/cartpole-dqn.h5")) == "runs/cartpole-dqn-best.h5"
    assert str(evaluations_log_path("cartpole-dqn.h5")) == "cartpole-dqn-evals.csv"


def test_train_stops_when_solved_and_test_best_plays_the_best_model(cli, tmp_path):
    # A threshold of 5 is met by any greedy episode (the pole needs more steps to fall).
    result = cli("train", "--episodes", 4, "--seed", 0, "--eval-every", 1, "--eval-episodes", 2,
                 "--stop-when-solved", 5)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("episode: 0/4, score: ")
    assert re.fullmatch(r"eval: mean=\d+\.\d at500=0/2 best=\d+\.\d", lines[1])
    assert "training finished: 1 episodes" in result.stdout
    assert lines[-1].startswith("models: cartpole-dqn.h5 not written (no episode reached 500); "
                                "cartpole-dqn-best.h5 = best evaluation (episode 0): eval mean ")
    assert lines[-1].endswith("; stopped when solved at episode 0")
    assert (tmp_path / "cartpole-dqn-evals.csv").is_file()

    played = cli("test", "--best", "--render", "none", "--episodes", 2)
    assert played.returncode == 0, played.stderr
    assert "test: reached 500 in" in played.stdout


@pytest.mark.parametrize("args, message", [
    (["train", "--eval-episodes", "-1"], "--eval-episodes must be 0 (off) or a positive whole number"),
    (["train", "--eval-every", "0"], "--eval-every must be a positive whole number"),
    (["train", "--stop-when-solved", "600"], "--stop-when-solved must be above 0 and at most 500"),
    (["train", "--eval-episodes", "0", "--stop-when-solved"], "--stop-when-solved and --eval-every need evaluation"),
    (["train", "--best-model", "cartpole-dqn.h5"], "--best-model must differ from --model"),
    (["test", "--best", "--model", "none.h5"], "no best model at none-best.h5"),
])
def test_bad_evaluation_flags_give_one_line_errors(cli, args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("cartpole-dqn: error: " + message)
    assert len(result.stderr.strip().splitlines()) == 1
