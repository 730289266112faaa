"""Greedy evaluation during training: it never changes training, keeps the best model, can stop."""

import csv
import random
import re

import numpy as np
import pytest

from cartpole_dqn import output_files
from cartpole_dqn.environment import make_env
from cartpole_dqn.evaluation import Evaluator, play_greedy, watch_line
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


def scripted(evaluator, screens, confirmations=()):
    """Make ``evaluator`` report the given greedy scores: one list per screen, one per confirmation."""
    screens, confirmations = list(screens), list(confirmations)
    evaluator.screen.play = lambda q_values: screens.pop(0)
    evaluator.confirmation.play = lambda q_values: confirmations.pop(0)
    return evaluator


class SavesRecorder:
    """Stands in for the agent when only the saves matter."""

    q_values = None  # the scripted evaluator never calls it

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


def test_evaluation_does_not_change_the_training_trajectory(tmp_path, capsys):
    plain = train()
    plain_lines = capsys.readouterr().out.splitlines()
    evaluator = Evaluator(tmp_path / "best.h5", episodes=2, confirm_episodes=2)  # every episode, the default
    evaluated = train(evaluator)
    evaluated_lines = capsys.readouterr().out.splitlines()
    assert [r.episode for r in evaluator.records] == list(range(SHORT_RUN.EPISODES))
    assert evaluator.best is not None and evaluator.best.saved  # it confirmed and saved along the way
    assert [line for line in evaluated_lines if not line.startswith("eval:")] == plain_lines
    assert evaluated.scores == plain.scores
    assert evaluated.epsilon == plain.epsilon
    for ours, theirs in zip(evaluated.model.get_weights(), plain.model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_evaluation_leaves_the_global_random_streams_alone(tmp_path):
    agent = seeded_agent(SHORT_RUN, seed=5)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    evaluator = Evaluator(tmp_path / "best.h5", episodes=3, confirm_episodes=3)
    evaluator(agent, 0, 10)
    assert evaluator.records[0].confirm_episodes == 3  # the first screen is always confirmed
    assert random.getstate() == python_state
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1]) and after[2:] == numpy_state[2:]


def test_screen_confirmation_and_test_start_from_different_states():
    def first_states(seeds, resets=1):
        env = make_env()
        states = [tuple(env.reset(seed=seed)[0]) for seed in seeds]
        states += [tuple(env.reset()[0]) for _ in range(resets - 1)]  # test goes on with its stream
        return states

    evaluator = Evaluator("best.h5")
    screen = first_states(evaluator.screen.seeds)
    confirmation = first_states(evaluator.confirmation.seeds)
    test = [state for seed in range(4) for state in first_states([seed], resets=20)]  # test --seed 0..3
    assert len(set(screen) | set(confirmation) | set(test)) == len(screen) + len(confirmation) + len(test)


def test_candidates_are_confirmed_and_the_best_is_kept_by_screen_and_confirmation(tmp_path, capsys):
    best = tmp_path / "best.h5"
    evaluator = scripted(
        Evaluator(best, episodes=2, confirm_episodes=2, log_path=tmp_path / "evals.csv"),
        screens=[[10, 20], [5, 5], [500, 100], [500, 500], [500, 500], [500, 500], [500, 500]],
        confirmations=[[10, 10], [100, 100], [500, 400], [400, 400], [500, 500]])
    agent = SavesRecorder()
    for episode in range(7):
        assert evaluator(agent, episode, 10) is False
    records = evaluator.records
    # The first screen is confirmed; 5 is below the best's 12.5, so not; 300 is, and 200 over all four
    # episodes beats 12.5.  Then three perfect screens, a tie at the top broken by their confirmations:
    # 475 is kept, 450 is not, 500 is.  Nothing can beat 500: no more confirmations.
    assert [r.confirm_mean for r in records] == [10, None, 100, 450, 400, 500, None]
    assert [r.saved for r in records] == [True, False, True, True, False, True, False]
    assert [r.best for r in records] == [12.5, 12.5, 200, 475, 475, 500, 500]
    assert agent.saved == [best] * 4
    assert evaluator.best is records[5]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "eval: mean=15.0 at500=0/2 confirm=10.0 at500=0/2 best=12.5 saved"
    assert lines[3] == "eval: mean=500.0 at500=2/2 confirm=400.0 at500=0/2 best=475.0"
    assert len(lines) == 5  # one line per confirmation
    with open(tmp_path / "evals.csv") as log:
        rows = list(csv.DictReader(log))
    assert [(row["episode"], row["mean"], row["confirm_mean"], row["saved"]) for row in rows[:2]] == [
        ("0", "15.0", "10.0", "True"), ("1", "5.0", "", "False")]


def test_evaluation_runs_every_episode_by_default_or_every_k_and_after_a_500(tmp_path):
    every_episode = scripted(Evaluator(tmp_path / "a.h5"), [[1]] * 10, [[1]] * 10)
    every_third = scripted(Evaluator(tmp_path / "b.h5", every=3), [[1]] * 10, [[1]] * 10)
    agent = SavesRecorder()
    for episode, score in enumerate([20, 500, 30, 40, 50, 60]):
        every_episode(agent, episode, score)
        every_third(agent, episode, score)
    assert [r.episode for r in every_episode.records] == [0, 1, 2, 3, 4, 5]
    assert [r.episode for r in every_third.records] == [1, 2, 5]


def test_an_interrupted_best_save_keeps_the_previous_best(tmp_path, monkeypatch):
    best = tmp_path / "cartpole-dqn-best.h5"
    agent = seeded_agent(SHORT_RUN, seed=0)
    evaluator = scripted(Evaluator(best, episodes=1, confirm_episodes=1), [[10], [20]], [[10], [20]])
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


def test_training_stops_on_a_kept_model_whose_screen_and_confirmation_reach_the_threshold(tmp_path):
    evaluator = scripted(Evaluator(tmp_path / "best.h5", episodes=2, confirm_episodes=2, stop_at=475),
                         screens=[[500, 500], [500, 500], [9, 9]],
                         confirmations=[[500, 300], [500, 480]])
    agent = train(evaluator)
    # The first screen reached 475 but its confirmation (400) did not: training went on.
    assert evaluator.first_reached is evaluator.records[0]
    assert len(agent.scores) == 2  # stopped after the second episode's evaluation
    assert evaluator.stopped_at is evaluator.records[-1] is evaluator.best


def test_train_stops_when_solved_and_the_last_line_says_what_to_watch(cli, tmp_path):
    # A threshold of 5 is met by any greedy episode (the pole needs more steps to fall).
    result = cli("train", "--episodes", 4, "--seed", 0, "--eval-episodes", 2, "--confirm-episodes", 3,
                 "--stop-when-solved", 5)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("episode: 0/4, score: ")
    assert re.fullmatch(r"eval: mean=\d+\.\d at500=0/2 confirm=\d+\.\d at500=0/3 best=\d+\.\d saved", lines[1])
    assert "training finished: 1 episodes" in result.stdout
    assert lines[-2].startswith("models: cartpole-dqn.h5 not written (no episode reached 500); "
                                "cartpole-dqn-best.h5 = best evaluation (episode 0): eval mean ")
    assert "; confirmation mean " in lines[-2]
    assert re.search(r"; stopped when solved at episode 0; 1 evaluations, 1 confirmed, in \d+\.\d s$", lines[-2])
    assert lines[-1] == "watch the best model (cartpole-dqn-best.h5): cartpole-dqn test --best"
    assert (tmp_path / "cartpole-dqn-evals.csv").is_file()

    refused = cli("test", "--render", "none", "--episodes", 2)
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("cartpole-dqn: error: no model file at cartpole-dqn.h5, but the best "
                                      "evaluated model is at cartpole-dqn-best.h5; play it with: "
                                      "cartpole-dqn test --best")
    played = cli("test", "--best", "--render", "none", "--episodes", 2)
    assert played.returncode == 0, played.stderr
    assert "test: reached 500 in" in played.stdout


def test_watch_line_names_the_file_and_the_command():
    assert watch_line("runs/a.h5", False, "runs/a-best.h5") == (
        "watch the best model (runs/a-best.h5): cartpole-dqn test --best --model runs/a.h5")
    assert watch_line("a.h5", True, "elsewhere.h5") == (
        "watch the best model (elsewhere.h5): cartpole-dqn test --model elsewhere.h5")
    assert watch_line("cartpole-dqn.h5", True) == "watch the model (cartpole-dqn.h5): cartpole-dqn test"
    assert watch_line("cartpole-dqn.h5", False).startswith("nothing to watch: ")


@pytest.mark.parametrize("args, message", [
    (["train", "--eval-episodes", "-1"], "--eval-episodes must be 0 (off) or a positive whole number"),
    (["train", "--eval-every", "0"], "--eval-every must be a positive whole number"),
    (["train", "--confirm-episodes", "0"], "--confirm-episodes must be a positive whole number"),
    (["train", "--stop-when-solved", "600"], "--stop-when-solved must be above 0 and at most 500"),
    (["train", "--eval-episodes", "0", "--stop-when-solved"], "--stop-when-solved needs evaluation"),
    (["train", "--best-model", "cartpole-dqn.h5"], "--best-model must differ from --model"),
    (["test", "--best", "--model", "none.h5"], "no best model at none-best.h5"),
])
def test_bad_evaluation_flags_give_one_line_errors(cli, args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("cartpole-dqn: error: " + message)
    assert len(result.stderr.strip().splitlines()) == 1
