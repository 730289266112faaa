"""The evaluator keeps the best model: candidates confirmed, ranked by their episodes at 500 then their mean,
proven before they stop training; a screen that can decide nothing is cut short.  Each greedy episode here lasts
as long as its script says (an environment factory), whatever the network."""

import collections
import csv
from functools import partial

import numpy as np
import pytest

from cartpole_dqn import output_files
from cartpole_dqn.hyperparameters import DEFAULTS
from cartpole_dqn.training.evaluation import EVERY_EPISODE_AT_500, Evaluator
from conftest import seeded_agent, trained


class ScriptedEpisodes:
    """An environment factory for ``Evaluator(make_env=...)``: the episode started from seed ``s`` lasts the next
    of ``lengths[s]`` steps whatever the actions (500, the time limit, once none is left)."""

    def __init__(self):
        self.lengths = collections.defaultdict(list)

    def script(self, seeds, lengths_of_each_play):
        for lengths in lengths_of_each_play:
            for seed, length in zip(seeds, lengths, strict=True):
                self.lengths[seed].append(length)

    def __call__(self, render):
        return FixedLengthEpisodes(self.lengths)


class FixedLengthEpisodes:
    """Stands in for CartPole: each episode lasts its scripted length; 500 is the time limit."""

    def __init__(self, lengths):
        self.lengths = lengths
        self.length = self.steps = 0

    def reset(self, seed=None):
        self.steps = 0
        self.length = self.lengths[seed].pop(0) if self.lengths[seed] else 500
        return np.zeros(4, np.float32), {}

    def step(self, action):
        self.steps += 1
        return np.zeros(4, np.float32), 1.0, self.steps == self.length < 500, self.steps == 500, {}

    def close(self):
        pass


def scripted(make_evaluator, screens, confirmations=(), proofs=None, cut_hopeless_screens=False):
    """``make_evaluator(make_env=..., ...)`` whose greedy episodes score as given: one list per screen, one per
    confirmation, one per proof (by default, every proof episode reaches 500); screens are played out unless
    ``cut_hopeless_screens``."""
    episodes = ScriptedEpisodes()
    evaluator = make_evaluator(make_env=episodes, cut_hopeless_screens=cut_hopeless_screens)
    episodes.script(evaluator.screen.seeds, screens)
    episodes.script(evaluator.confirmation.seeds, confirmations)
    episodes.script(evaluator.proof.seeds, proofs or [])
    return evaluator


class ConstantAgent:
    """Stands in for the agent when only how long greedy episodes last matters (FixedLengthEpisodes)."""

    def __init__(self):
        self.saved = []

    def q_values(self, states):
        return np.zeros((len(states), 2), np.float32)

    def q_values_snapshot(self):
        return self.q_values

    def save(self, path):
        self.saved.append(path)


class SavesRecorder:
    """Stands in for the agent when only the saves matter."""

    def q_values_snapshot(self):
        return ConstantAgent().q_values  # the scripted episodes last as long as they were told, whatever the actions

    def __init__(self):
        self.saved = []

    def save(self, path):
        self.saved.append(path)


def test_candidates_are_confirmed_and_the_best_is_kept_by_screen_and_confirmation(tmp_path, capsys):
    best = tmp_path / "best.h5"
    evaluator = scripted(
        partial(Evaluator, best, episodes=2, confirm_episodes=2, log_path=tmp_path / "evals.csv"),
        screens=[[10, 20], [5, 5], [500, 100], [500, 500], [500, 500], [500, 500], [500, 500]],
        confirmations=[[10, 10], [100, 100], [500, 400], [400, 400], [500, 500]],
    )
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
        ("0", "15.0", "10.0", "True"),
        ("1", "5.0", "", "False"),
    ]


def test_evaluation_runs_every_episode_by_default_or_every_k_and_after_a_500(tmp_path):
    one_each = {"episodes": 1, "confirm_episodes": 1}
    every_episode = scripted(partial(Evaluator, tmp_path / "a.h5", **one_each), [[1]] * 10, [[1]] * 10)
    every_third = scripted(partial(Evaluator, tmp_path / "b.h5", every=3, **one_each), [[1]] * 10, [[1]] * 10)
    agent = SavesRecorder()
    for episode, score in enumerate([20, 500, 30, 40, 50, 60]):
        every_episode(agent, episode, score)
        every_third(agent, episode, score)
    assert [r.episode for r in every_episode.records] == [0, 1, 2, 3, 4, 5]
    assert [r.episode for r in every_third.records] == [1, 2, 5]


def test_an_interrupted_best_save_keeps_the_previous_best(tmp_path, monkeypatch):
    best = tmp_path / "cartpole-dqn-best.h5"
    agent = seeded_agent(DEFAULTS.replace(EPISODES=3, batch_size=16), seed=0)
    evaluator = scripted(partial(Evaluator, best, episodes=1, confirm_episodes=1), [[10], [20]], [[10], [20]])
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
    evaluator = scripted(
        partial(Evaluator, tmp_path / "best.h5", episodes=2, confirm_episodes=2, stop_at=475),
        screens=[[500, 500], [500, 500], [9, 9]],
        confirmations=[[500, 300], [500, 480]],
    )
    agent = trained(evaluator)
    # The first screen reached 475 but its confirmation (400) did not: training went on.
    assert evaluator.first_reached is evaluator.records[0]
    assert len(agent.scores) == 2  # stopped after the second episode's evaluation
    assert evaluator.stopped_at is evaluator.records[-1] is evaluator.best


def test_the_best_model_has_the_most_episodes_at_500_then_the_highest_mean(tmp_path):
    evaluator = scripted(
        partial(Evaluator, tmp_path / "best.h5", episodes=2, confirm_episodes=2),
        screens=[[500, 499], [500, 500], [499, 499], [500, 500], [500, 480]],
        confirmations=[[500, 480], [500, 100], [500, 200]],
    )
    agent = SavesRecorder()
    for episode in range(5):
        evaluator(agent, episode, 10)
    records = evaluator.records
    # 3 of 4 at 500 (mean 400) beats 2 of 4 (mean 494.8); a screen of 499s (0 of 2) is not worth confirming,
    # though its mean beats the best's; at 3 of 4 each, the higher mean (425) wins; 1 of 2 is below 3 of 4.
    assert [r.total_at500 for r in records] == [2, 3, None, 3, None]
    assert [r.saved for r in records] == [True, True, False, True, False]
    assert evaluator.best is records[3] and evaluator.best.score == 425


def test_stop_when_solved_waits_for_every_evaluation_episode_at_500_and_a_mean_stops_sooner(tmp_path):
    screens, confirmations = [[500, 500], [500, 500], [9, 9]], [[500, 499], [500, 500]]
    every_500 = scripted(
        partial(Evaluator, tmp_path / "a.h5", episodes=2, confirm_episodes=2, stop_at=EVERY_EPISODE_AT_500),
        screens,
        confirmations,
    )
    assert len(trained(every_500).scores) == 2  # 499 in the first confirmation: training went on
    assert every_500.stopped_at is every_500.records[1] is every_500.best and every_500.best.all_at500
    mean_475 = scripted(
        partial(Evaluator, tmp_path / "b.h5", episodes=2, confirm_episodes=2, stop_at=475), screens, confirmations
    )
    assert len(trained(mean_475).scores) == 1  # means 500 and 499.5 both reach 475
    assert not mean_475.stopped_at.all_at500


TWO_EACH_UNTIL_SOLVED = {"episodes": 2, "confirm_episodes": 2, "stop_at": EVERY_EPISODE_AT_500}


def test_a_model_with_every_episode_at_500_is_solved_only_if_its_proof_reaches_500_too(tmp_path, capsys):
    evaluator = scripted(
        partial(Evaluator, tmp_path / "best.h5", proof_episodes=3, **TWO_EACH_UNTIL_SOLVED),
        screens=[[500, 500], [500, 500], [500, 500], [500, 500]],
        confirmations=[[500, 500], [500, 499], [500, 500]],
        proofs=[[500, 120, 500], [500, 500, 500]],
    )
    agent = trained(evaluator, seed=3)
    records = evaluator.records
    # 4 of 4, then a fall in the proof: kept (6 of 7) but not solved.  4 of 4 at 500 beats 6 of 7, but a 499 in
    # the confirmation makes 3 of 4, below 6 of 7, and needs no proof.  The third plays all 7 to 500: solved.
    assert [(r.total_at500, r.episodes + r.confirm_episodes) for r in records] == [(6, 7), (3, 4), (7, 7)]
    assert [r.saved for r in records] == [True, False, True]
    assert len(agent.scores) == 3 and evaluator.stopped_at is records[2] is evaluator.best
    evaluation_lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("eval:")]
    assert evaluation_lines[0] == "eval: mean=500.0 at500=2/2 confirm=424.0 at500=4/5 best=445.7 saved"


def test_without_a_proof_forty_episodes_at_500_stop_training(tmp_path):
    evaluator = scripted(
        partial(Evaluator, tmp_path / "best.h5", proof_episodes=0, **TWO_EACH_UNTIL_SOLVED),
        screens=[[500, 500]],
        confirmations=[[500, 500]],
        proofs=[],  # never asked for
    )
    assert len(trained(evaluator).scores) == 1 and evaluator.best.confirm_episodes == 2


def test_the_best_model_is_ranked_by_the_fraction_of_its_episodes_at_500_whatever_their_number(tmp_path):
    evaluator = scripted(
        partial(Evaluator, tmp_path / "best.h5", episodes=2, confirm_episodes=2, proof_episodes=4),
        screens=[[500, 500], [500, 500], [500, 500]],
        confirmations=[[500, 500], [500, 499], [500, 500]],
        proofs=[[500, 500, 10, 10], [500, 500, 500, 10]],
    )
    agent = SavesRecorder()
    for episode in range(3):
        evaluator(agent, episode, 10)
    # 6 of 8 at 500 and 3 of 4 are the same fraction: the higher mean (499.75 against 377.5) wins, where a count
    # of 500s would have kept 6.  Then 7 of 8 beats both.
    assert [(r.total_at500, r.episodes + r.confirm_episodes) for r in evaluator.records] == [(6, 8), (3, 4), (7, 8)]
    assert [r.saved for r in evaluator.records] == [True, True, True]


def test_a_screen_that_can_decide_nothing_is_cut_short_and_recorded_as_such(tmp_path):
    screens = [
        [500, 500, 500, 10],  # kept: 5 of 6 at 500; mean 377.5, below 475
        [450, 500, 500, 500],  # 3 of 4 at best, no candidate; but its mean may reach 475
        [100, 500, 500, 500],  # no candidate, and 475 was reached: cut at step 100
        [500, 500, 500, 500],  # a candidate, played out: 9 of 10 at 500 is kept
    ]
    confirmations = [[500, 500], [500, 499]]  # the candidates' only: the first and the last screen

    def run(cut):
        options = {"episodes": 4, "confirm_episodes": 2, "log_path": tmp_path / f"{cut}.csv"}
        evaluator = scripted(
            partial(Evaluator, tmp_path / f"{cut}.h5", **options), screens, confirmations, cut_hopeless_screens=cut
        )
        for episode in range(len(screens)):
            evaluator(ConstantAgent(), episode, 10)
        return evaluator

    cut, full = run(True), run(False)
    assert [r.finished for r in cut.records] == [4, 4, 1, 4]
    assert [r.cut_short for r in cut.records] == [False, False, True, False]
    # What the cut screen records is true: one episode ended (before 500), the others had lasted 100 steps.
    assert (cut.records[2].at500, cut.records[2].mean, cut.records[2].episodes) == (0, 100.0, 4)
    assert (full.records[2].at500, full.records[2].mean) == (3, 400.0)
    # Every decision is the same as with the screens played out.
    assert cut.records[:2] + cut.records[3:] == full.records[:2] + full.records[3:]
    assert cut.first_reached is cut.records[1] and full.first_reached is full.records[1]
    assert cut.best is cut.records[3] and full.best == full.records[3]
    with open(tmp_path / "True.csv") as log:
        rows = list(csv.DictReader(log))
    assert [(row["episodes"], row["finished"], row["mean"]) for row in rows[2:3]] == [("4", "1", "100.0")]
    from cartpole_dqn.training.plots import plot_training_scores

    plot = plot_training_scores([10] * 4, tmp_path / "plot.png", evaluations=cut.records, best=cut.best)
    assert plot.read_bytes()[:4] == b"\x89PNG"  # cut screens are drawn apart from the line
