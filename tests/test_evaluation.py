"""Greedy evaluation during training: it never changes training, keeps the best model, can stop."""

import random
import re

import numpy as np
import pytest

from cartpole_dqn.environment import make_env, play_greedy
from cartpole_dqn.hyperparameters import DEFAULTS
from cartpole_dqn.training.evaluation import Evaluator
from cartpole_dqn.training.watch_line import watch_line
from conftest import seeded_agent, trained

SHORT_RUN = DEFAULTS.replace(EPISODES=3, batch_size=16)


def lean_policy(states):
    """Q-values that push the cart toward the side the pole swings: a fair hand-made policy."""
    states = np.asarray(states)
    return np.stack([np.zeros(len(states)), states[:, 3]], axis=1)


def test_lockstep_greedy_play_scores_like_one_episode_at_a_time():
    seeds = [11, 12, 13]
    together, ended = play_greedy(lean_policy, [make_env() for _ in seeds], seeds)
    one_by_one = [play_greedy(lean_policy, [make_env()], [seed])[0][0] for seed in seeds]
    assert together == one_by_one and ended == 3
    assert len(set(together)) > 1  # the episodes really differ, so a mix-up would show


def test_greedy_play_given_up_keeps_the_steps_the_unfinished_episodes_lasted():
    seeds = [11, 12, 13]
    full, _ = play_greedy(lean_policy, [make_env() for _ in seeds], seeds)
    seen = []
    cut, ended = play_greedy(
        lean_policy, [make_env() for _ in seeds], seeds, give_up=lambda scores: seen.append(list(scores)) or True
    )
    shortest = min(full)
    assert seen == [[shortest]] and ended == 1  # asked once, when the first episode ended
    assert cut == [min(score, shortest) for score in full]


def test_evaluation_does_not_change_the_training_trajectory(tmp_path, capsys):
    plain = trained()
    plain_lines = capsys.readouterr().out.splitlines()
    evaluator = Evaluator(tmp_path / "best.h5", episodes=2, confirm_episodes=2)  # every episode, the default
    evaluated = trained(evaluator)
    evaluated_lines = capsys.readouterr().out.splitlines()
    assert [r.episode for r in evaluator.records] == list(range(SHORT_RUN.EPISODES))
    assert evaluator.best is not None and evaluator.best.saved  # it confirmed and saved along the way
    assert [line for line in evaluated_lines if not line.startswith("eval:")] == plain_lines
    assert evaluated.scores == plain.scores
    assert evaluated.epsilon == plain.epsilon
    for ours, theirs in zip(evaluated.model.get_weights(), plain.model.get_weights(), strict=True):
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
    confirmation = first_states(evaluator.confirmation.seeds + evaluator.proof.seeds)
    test = [state for seed in range(4) for state in first_states([seed], resets=20)]  # test --seed 0..3
    assert len(confirmation) == 130  # the proof's 100 starting states follow the confirmation's 30
    assert len(set(screen) | set(confirmation) | set(test)) == len(screen) + len(confirmation) + len(test)


@pytest.mark.slow
def test_train_stops_when_solved_and_the_last_line_says_what_to_watch(cli, tmp_path):
    # A threshold of 5 is met by any greedy episode (the pole needs more steps to fall).
    result = cli(
        "train", "--episodes", 4, "--seed", 0, "--eval-episodes", 2, "--confirm-episodes", 3, "--stop-when-solved", 5
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("episode: 0/4, score: ")
    assert re.fullmatch(r"eval: mean=\d+\.\d at500=0/2 confirm=\d+\.\d at500=0/3 best=\d+\.\d saved", lines[1])
    assert "training finished: 1 episodes" in result.stdout
    assert lines[-4].startswith(
        "models: cartpole-dqn.h5 not written (no episode reached 500); "
        "cartpole-dqn-best.h5 = best evaluation (episode 0): eval mean "
    )
    assert "; confirmation mean " in lines[-4]
    assert re.search(
        r"; stopped at episode 0: its means reached the --stop-when-solved mean; 1 evaluations, "
        r"1 confirmed, 0 cut short, in \d+\.\d s$",
        lines[-4],
    )
    # Stopped by a mean of 5, yet not solved: solved means every episode at 500, the proof's included.
    assert lines[-3] == (
        "not solved: the best model, cartpole-dqn-best.h5 (episode 0), played 500 in 0 of its 5 evaluation "
        "episodes (0%); solved means 500 in every one of 105: 2 screen, 3 confirmation and 100 proof episodes. "
        "Play it: cartpole-dqn test --best"
    )
    assert lines[-2].startswith("solved soonest: cartpole-dqn train --preset ddqn-quick")
    assert lines[-1] == "watch the best model (cartpole-dqn-best.h5): cartpole-dqn test --best"
    assert (tmp_path / "cartpole-dqn-evals.csv").is_file()

    refused = cli("test", "--render", "none", "--episodes", 2)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "cartpole-dqn: error: no model file at cartpole-dqn.h5, but the best "
        "evaluated model is at cartpole-dqn-best.h5; play it with: "
        "cartpole-dqn test --best"
    )
    played = cli("test", "--best", "--render", "none", "--episodes", 2)
    assert played.returncode == 0, played.stderr
    assert "test: reached 500 in" in played.stdout


@pytest.mark.slow
def test_stop_when_solved_without_a_value_goes_on_until_every_episode_reaches_500_and_says_so_at_the_end(cli):
    # An untrained network's greedy episodes last ~9 steps: a mean of 5 would stop after episode 0 (above).
    result = cli(
        "train", "--episodes", 2, "--seed", 0, "--eval-episodes", 2, "--confirm-episodes", 3, "--stop-when-solved"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "training finished: 2 episodes" in result.stdout
    assert "stopped" not in lines[-4]
    assert lines[-3].startswith(
        "not solved: the best model, cartpole-dqn-best.h5 (episode 1), played 500 in 0 of its 5 evaluation episodes"
    )
    assert lines[-2] == (
        "solved soonest: cartpole-dqn train --preset ddqn-quick --episodes 300 --stop-when-solved (solved 10 of 10 "
        "new seeds in a median 13 s of training on 2 cores); stays learned if training goes on: cartpole-dqn train "
        "--preset ddqn-steady --episodes 300 --stop-when-solved (solved 10 of 10 new seeds in a median 31 s of "
        "training on 2 cores; the median seed's evaluations stayed at 475 or above 83% of the time once there)"
    )


def test_watch_line_names_the_file_and_the_command():
    assert watch_line("runs/a.h5", False, "runs/a-best.h5") == (
        "watch the best model (runs/a-best.h5): cartpole-dqn test --best --model runs/a.h5"
    )
    assert watch_line("a.h5", True, "elsewhere.h5") == (
        "watch the best model (elsewhere.h5): cartpole-dqn test --model elsewhere.h5"
    )
    assert watch_line("cartpole-dqn.h5", True) == "watch the model (cartpole-dqn.h5): cartpole-dqn test"
    assert watch_line("cartpole-dqn.h5", False) == (
        "nothing to watch: no episode reached 500 and evaluation was off; train again with evaluation on (the default)"
    )
    assert watch_line("cartpole-dqn.h5", False, evaluation_on=True) == (
        "nothing to watch: no episode reached 500 and no evaluation finished; train longer"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--eval-episodes", "-1"], "--eval-episodes must be 0 (off) or a positive whole number"),
        (["train", "--eval-every", "0"], "--eval-every must be a positive whole number"),
        (["train", "--confirm-episodes", "0"], "--confirm-episodes must be a positive whole number"),
        (["train", "--proof-episodes", "-1"], "--proof-episodes must be 0 (off) or a positive whole number"),
        (["train", "--stop-when-solved", "600"], "--stop-when-solved must be above 0 and at most 500"),
        (["train", "--eval-episodes", "0", "--stop-when-solved"], "--stop-when-solved needs evaluation"),
        (["train", "--best-model", "cartpole-dqn.h5"], "--best-model must differ from --model"),
        (["test", "--best", "--model", "none.h5"], "no best model at none-best.h5"),
    ],
)
def test_bad_evaluation_flags_give_one_line_errors(cli_error, args, message):
    assert cli_error(*args).startswith("cartpole-dqn: error: " + message)
