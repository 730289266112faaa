"""Greedy evaluation during training, and the best model it keeps.

The tutorial saves the model whenever one training episode reaches 500.  That
episode was played with exploration, by a network trained with dropout noise,
and a later 500 overwrites an earlier, better model; so the saved file often
balances the pole far worse in ``test`` than its training score promised.

:class:`Evaluator` is an episode hook (see ``DQNAgent.episode_hooks``): after
an episode that reached 500, and optionally every K episodes, it plays N
greedy episodes (no exploration, no learning) in environments of its own and
saves the model to a second file when their mean beats every earlier
evaluation.  The evaluation episodes always start from the same seeded states,
so evaluations are comparable with one another, and nothing here draws from
Python's, NumPy's or TensorFlow's global random streams: training goes exactly
as it would without evaluation.

This module is imported by the command line at start-up, so it must not
import TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import gymnasium as gym
import numpy as np

from cartpole_dqn.environment import ENV_ID, MAX_SCORE, make_env
from cartpole_dqn.errors import UserError
from cartpole_dqn.number_types import COUNT, RealNumber, WholeNumber, check_flag
from cartpole_dqn.output_files import write_csv
from cartpole_dqn.summary import models_summary

DEFAULT_EVAL_EPISODES = 10
TEST_EPISODES = 20  # greedy episodes of the test command; the tutorial shows 20
# CartPole-v1's own bar for "solved" (475): the mean a --stop-when-solved run must reach.
SOLVED_THRESHOLD = float(gym.spec(ENV_ID).reward_threshold)
# Evaluation episode i starts from env.reset(seed=EVAL_SEED + i), far from
# the small seeds people give to training.
EVAL_SEED = 1_000_000
STOP_THRESHOLD = RealNumber(0, MAX_SCORE, low_open=True)  # --stop-when-solved: a mean score that can be reached


def play_greedy(q_values, envs, seeds):
    """Play one greedy episode in each of ``envs`` at once; return their lengths.

    ``q_values`` maps a batch of states to Q-values (``DQNAgent.q_values``).  Each env is reset with its seed from ``seeds`` (None keeps
    its random stream going).  The unfinished episodes share one network call
    per step, so ten episodes cost little more than one.
    """
    states = [env.reset(seed=seed)[0] for env, seed in zip(envs, seeds)]
    scores = [0] * len(envs)
    playing = list(range(len(envs)))
    while playing:
        q = np.asarray(q_values(np.asarray([states[k] for k in playing], dtype=np.float32)))
        still_playing = []
        for k, action in zip(playing, np.argmax(q, axis=1)):
            states[k], _, terminated, truncated, _ = envs[k].step(int(action))
            scores[k] += 1
            if not (terminated or truncated):
                still_playing.append(k)
        playing = still_playing
    return scores


def best_model_path(model_path) -> Path:
    """``cartpole-dqn.h5`` -> ``cartpole-dqn-best.h5``: where the best evaluated model goes."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}-best{path.suffix}")


def evaluations_log_path(model_path, log_dir=None) -> Path:
    """``cartpole-dqn.h5`` -> ``cartpole-dqn-evals.csv``, in ``log_dir`` or beside the model: one row per evaluation."""
    path = Path(model_path)
    folder = Path(log_dir) if log_dir is not None else path.parent
    return folder / f"{path.stem}-evals.csv"


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation: after which training episode, and how the greedy episodes went."""

    episode: int  # the training episode after which the model was evaluated
    mean: float  # mean greedy score
    at500: int  # greedy episodes that reached 500
    episodes: int  # greedy episodes played
    best: float  # best mean so far, this one included
    saved: bool  # this evaluation improved on the best and was saved


class Evaluator:
    """Episode hook: evaluate the agent greedily, keep the best model, maybe stop.

    ``episodes`` greedy episodes per evaluation; evaluate after every episode
    that reached 500 and, if ``every`` is given, after every ``every``-th
    episode; save to ``best_path`` on improvement; append one row per
    evaluation to ``log_path`` (if given); stop training (return True) once a
    mean reaches ``stop_at`` (if given).
    """

    def __init__(self, best_path, *, episodes=DEFAULT_EVAL_EPISODES, every=None, stop_at=None,
                 log_path=None, seed=EVAL_SEED):
        check_flag("--eval-episodes", episodes, COUNT)
        if every is not None:
            check_flag("--eval-every", every, COUNT)
        if stop_at is not None:
            check_flag("--stop-when-solved", stop_at, STOP_THRESHOLD)
        self.best_path = Path(best_path)
        self.episodes = episodes
        self.every = every
        self.stop_at = stop_at
        self.log_path = Path(log_path) if log_path is not None else None
        self.seeds = [seed + i for i in range(episodes)]
        self.records: list[EvaluationRecord] = []
        self.best_mean = -math.inf
        self.stopped_at = None  # the evaluation that reached stop_at
        self._envs = None  # made on the first evaluation: a run may never need them

    def due(self, episode: int, score: int) -> bool:
        return score >= MAX_SCORE or (self.every is not None and (episode + 1) % self.every == 0)

    def evaluate(self, agent) -> list[int]:
        """Greedy scores of the agent's current network on the evaluation episodes."""
        if self._envs is None:
            self._envs = [make_env("none") for _ in self.seeds]
        return play_greedy(agent.q_values, self._envs, self.seeds)

    def __call__(self, agent, episode: int, score: int) -> bool:
        if not self.due(episode, score):
            return False
        scores = self.evaluate(agent)
        mean = sum(scores) / len(scores)
        saved = mean > self.best_mean
        if saved:
            agent.save(self.best_path)  # atomic: write a sibling file, then rename
            self.best_mean = mean
        record = EvaluationRecord(episode, mean, sum(s >= MAX_SCORE for s in scores), len(scores),
                                  self.best_mean, saved)
        self.records.append(record)
        print(f"eval: mean={mean:.1f} at{MAX_SCORE}={record.at500}/{record.episodes} "
              f"best={self.best_mean:.1f}", flush=True)
        self._write_log()
        if self.stop_at is not None and mean >= self.stop_at:
            self.stopped_at = record
            return True
        return False

    def _write_log(self):
        if self.log_path is not None:  # rewritten whole, atomically; nothing before the first evaluation
            write_csv(self.log_path, [f.name for f in fields(EvaluationRecord)], map(astuple, self.records))

    # -- checkpoints (cartpole_dqn.checkpoint) ---------------------------

    def checkpoint_state(self) -> dict:
        return {"best_mean": self.best_mean, "records": [astuple(r) for r in self.records]}

    def restore_checkpoint_state(self, state) -> None:
        """Go on from a checkpoint: its best mean (a resumed run saves only a better model) and its records."""
        self.best_mean = state["best_mean"]
        self.records = [EvaluationRecord(*record) for record in state["records"]]
        if self.records:
            self._write_log()

    def saved_model_after(self, episode) -> bool:
        """Whether the evaluation after ``episode`` saved the best model (the checkpoint follows it)."""
        return bool(self.records) and self.records[-1].episode == episode and self.records[-1].saved

    def summary(self, model_path, saved_episodes) -> str:
        """The end-of-training line naming the last-500 model and the best model."""
        last_saved = saved_episodes[-1] if saved_episodes else None
        # The hook runs right after the tutorial's save, so the evaluation of
        # that episode scored exactly the model in model_path.
        last_evaluation = next((r for r in self.records if r.episode == last_saved), None)
        best = next((r for r in reversed(self.records) if r.saved), None)
        return models_summary(model_path, last_saved, last_evaluation, self.best_path, best, self.stopped_at)

    def close(self):
        for env in self._envs or ():
            env.close()
        self._envs = None


def add_evaluation_arguments(parser) -> None:
    """The ``train`` flags that control evaluation, the best model and early stopping."""
    group = parser.add_argument_group("evaluation (greedy episodes that pick the best model)")
    group.add_argument("--eval-episodes", type=WholeNumber(0, description="0 (off) or a positive whole number"),
                       default=DEFAULT_EVAL_EPISODES, metavar="N",
                       help="greedy episodes per evaluation; an evaluation follows every episode that "
                            f"reaches {MAX_SCORE}; 0 turns evaluation off (default: {DEFAULT_EVAL_EPISODES})")
    group.add_argument("--eval-every", type=COUNT, default=None, metavar="K",
                       help="also evaluate after every K-th episode (default: off)")
    group.add_argument("--best-model", default=None, metavar="PATH",
                       help="where the best evaluated model is saved (default: the --model name "
                            "with -best, e.g. cartpole-dqn-best.h5)")
    group.add_argument("--stop-when-solved", type=STOP_THRESHOLD, nargs="?", const=SOLVED_THRESHOLD, default=None,
                       metavar="THRESHOLD",
                       help="stop training once an evaluation mean reaches THRESHOLD "
                            f"(default when given without a value: {SOLVED_THRESHOLD:g}, "
                            "CartPole-v1's reward threshold)")


def evaluator_from(args):
    """The Evaluator the ``train`` flags ask for, or None when evaluation is off."""
    if args.eval_episodes == 0:
        if args.stop_when_solved is not None or args.eval_every is not None:
            raise UserError("--stop-when-solved and --eval-every need evaluation; drop --eval-episodes 0")
        return None
    best = args.best_model if args.best_model is not None else best_model_path(args.model)
    if Path(best) == Path(args.model):
        raise UserError(f"--best-model must differ from --model ({args.model}): each run writes both")
    return Evaluator(best, episodes=args.eval_episodes, every=args.eval_every, stop_at=args.stop_when_solved,
                     log_path=evaluations_log_path(args.model, args.log_dir))
