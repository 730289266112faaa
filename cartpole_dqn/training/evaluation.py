"""Greedy evaluation during training, and the best model it keeps.

The tutorial saves the model whenever one training episode reaches 500.  That
episode was played with exploration, by a network trained with dropout noise
and changed by a replay after every step, so it says little about the
network that finishes it; and a later 500 overwrites an earlier, better model.
Networks that balance the pole often come and go between two 500s, or in
runs that never score 500 at all.

:class:`Evaluator` is an episode hook (see ``DQNAgent.episode_hooks``).  After
every episode (``every``), and after every episode that reached 500, it
*screens* the network: N greedy episodes (no exploration, no learning) in
environments of its own.  Networks are ranked first by the fraction of their
episodes that reached 500, then by their mean score.  A screen ranked at least
as high as the best model is a *candidate*: it plays M more greedy episodes,
its *confirmation*, from other starting states, and it becomes the best model
(saved to a second file) when its episodes rank above the best so far: a
larger fraction of them reached 500, or as large and a higher mean.  So a
lucky screen is not kept on ten episodes alone, and ties at the top are broken
by the confirmation.  The fraction of 500s comes first because it is what a
test sees: in the seed study every kept network whose 40 evaluation episodes
all reached 500 played 500 in 19 or 20 of 20 test episodes, while networks
kept on a mean of 465-495 played 500 in 8 to 18.

A candidate whose N + M episodes all reached 500 plays P more, its *proof*
(``proof_episodes``, 100 by default), from yet other starting states, and its
confirmation counts them: it is solved only if they all reach 500 too.  Forty
episodes cannot rule out a network that falls from one start in twenty (it
passes them one time in eight), and over a long run many candidates try: one
tutorial run in ten stopped on a network with 40 of 40 that then reached 500
in 18 of 20 test episodes.  Such a network passes 140 episodes about once in
1300.  The proof costs little: the episodes share one network call per step,
and only a network with 40 of 40 plays them.

``stop_at`` stops training once the kept model's screen and confirmation
means both reach it.  ``train --stop-when-solved`` without a value asks for
500 (``EVERY_EPISODE_AT_500``): every one of those episodes reached 500;
with a value, such as CartPole-v1's 475, a model that falls before 500 now
and then can stop training.

A screen that can no longer be a candidate (too many of its episodes fell
before 500, or its mean cannot reach the best's) is cut short: its unfinished
episodes stop where they are, which saves most of a screen's cost late in
training, when the others would run to 500.  Its record says so
(``finished`` < ``episodes``), and its ``mean`` counts the steps the cut
episodes had lasted: a lower bound.  While no screen has reached
``threshold`` yet, a screen is cut only if its mean cannot reach it either,
so ``first_reached`` is the same with and without cutting.  The study of how
evaluations stay solved needs every screen's full mean: it turns cutting off
(``cut_hopeless_screens=False``).

Starting states, far apart so that no two uses share one: screen episode i
starts from ``env.reset(seed=EVAL_SEED + i)``, confirmation episode i from
``CONFIRM_SEED + i`` (the proof's continue from the confirmation's last);
``test --seed S`` (and the learning benchmark) seeds its
first reset with a small S and continues that stream, and training does the
same with its own seed.  Nothing here draws from Python's, NumPy's or
TensorFlow's global random streams: training goes exactly as it would
without evaluation.

This module is imported by the command line at start-up, so it must not
import TensorFlow.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, astuple, fields, replace
from fractions import Fraction
from pathlib import Path

import gymnasium as gym

from cartpole_dqn.environment import ENV_ID, MAX_SCORE, make_env, play_greedy
from cartpole_dqn.number_types import COUNT, COUNT_OR_OFF, RealNumber, check_flag
from cartpole_dqn.output_files import write_csv
from cartpole_dqn.training.evaluation_record import EvaluationRecord, solves
from cartpole_dqn.training.summary import models_summary, unsolved_line
from cartpole_dqn.training.watch_line import play_best_command

DEFAULT_EVAL_EPISODES = 10
DEFAULT_CONFIRM_EPISODES = 30
DEFAULT_PROOF_EPISODES = 100
DEFAULT_EVAL_EVERY = 1
# CartPole-v1's own bar for "solved" (475): the mean of first_reached, and --stop-when-solved 475's.
_REWARD_THRESHOLD = gym.spec(ENV_ID).reward_threshold
assert _REWARD_THRESHOLD is not None, f"{ENV_ID} is registered with its reward threshold"
SOLVED_THRESHOLD = float(_REWARD_THRESHOLD)
# Screen episode i starts from env.reset(seed=EVAL_SEED + i), confirmation
# episode i from CONFIRM_SEED + i: far from each other and from the small
# seeds people give to training and test.
EVAL_SEED = 1_000_000
STOP_THRESHOLD = RealNumber(0, MAX_SCORE, low_open=True)  # --stop-when-solved: a mean score that can be reached
# --stop-when-solved without a value: means of 500, so every screen and confirmation episode reached 500.
EVERY_EPISODE_AT_500 = float(MAX_SCORE)
CONFIRM_SEED = 2_000_000


class GreedyEpisodes:
    """A fixed set of greedy episodes, one seeded starting state each, replayable on any network.

    ``make_env(render)`` makes each episode's environment (CartPole-v1 unless a test gives another).
    """

    def __init__(self, episodes: int, first_seed: int, make_env: Callable[[str], gym.Env] = make_env):
        self.seeds = [first_seed + i for i in range(episodes)]
        self._make_env = make_env
        self._envs: list[gym.Env] | None = None  # made when first played: a run may never need them

    def play(self, q_values, give_up=None) -> tuple[list[int], int]:
        """The episodes' lengths and how many ended: see :func:`play_greedy`."""
        if self._envs is None:
            self._envs = [self._make_env("none") for _ in self.seeds]
        return play_greedy(q_values, self._envs, self.seeds, give_up)

    def close(self):
        for env in self._envs or ():
            env.close()
        self._envs = None


def _mean(scores) -> float:
    return sum(scores) / len(scores)


class Evaluator:
    """Episode hook: screen the agent greedily, confirm candidates, keep the best model, maybe stop.

    ``episodes`` screen episodes after every ``every``-th training episode and
    after every episode that reached 500; ``confirm_episodes`` more for a
    candidate, and ``proof_episodes`` more for one with every episode at 500;
    save to ``best_path`` on improvement; append one row per evaluation to
    ``log_path`` (if given); stop training (return True) once the kept
    model's screen and confirmation means reach ``stop_at`` (if
    given; 500: every episode).  ``threshold`` (default: ``stop_at``, else
    475) is the mean whose first screen is ``first_reached``.  Screens that
    can no longer be candidates are cut short unless ``cut_hopeless_screens``
    is False (see the module's docstring).  ``make_env(render)`` makes the environments of its greedy episodes.
    """

    def __init__(
        self,
        best_path,
        *,
        episodes=DEFAULT_EVAL_EPISODES,
        confirm_episodes=DEFAULT_CONFIRM_EPISODES,
        proof_episodes=DEFAULT_PROOF_EPISODES,
        every=DEFAULT_EVAL_EVERY,
        stop_at=None,
        threshold=None,
        log_path=None,
        seed=EVAL_SEED,
        confirm_seed=CONFIRM_SEED,
        cut_hopeless_screens=True,
        make_env: Callable[[str], gym.Env] = make_env,
    ):
        check_flag("--eval-episodes", episodes, COUNT)
        check_flag("--confirm-episodes", confirm_episodes, COUNT)
        check_flag("--proof-episodes", proof_episodes, COUNT_OR_OFF)
        check_flag("--eval-every", every, COUNT)
        if stop_at is not None:
            check_flag("--stop-when-solved", stop_at, STOP_THRESHOLD)
        self.best_path = Path(best_path)
        self.every = every
        self.stop_at = stop_at
        self.cut_hopeless_screens = cut_hopeless_screens
        # The bar for "this screen reached the threshold" (first_reached), with or without stopping.
        self.threshold = threshold if threshold is not None else stop_at if stop_at is not None else SOLVED_THRESHOLD
        self.log_path = Path(log_path) if log_path is not None else None
        self.screen = GreedyEpisodes(episodes, seed, make_env)
        self.confirmation = GreedyEpisodes(confirm_episodes, confirm_seed, make_env)
        self.proof = GreedyEpisodes(proof_episodes, confirm_seed + confirm_episodes, make_env)
        self.records: list[EvaluationRecord] = []
        self.best: EvaluationRecord | None = None  # the record of the kept model
        self.first_reached: EvaluationRecord | None = None  # the first screen whose mean reached the threshold
        self.stopped_at: EvaluationRecord | None = None  # the evaluation whose model stopped training
        self.seconds = 0.0  # wall time spent evaluating and saving: the cost of evaluation

    @property
    def best_score(self) -> float:
        return self.best.rank[1] if self.best is not None else -math.inf  # the best model is always confirmed

    def due(self, episode: int, score: int) -> bool:
        return score >= MAX_SCORE or (episode + 1) % self.every == 0

    def is_candidate(self, screen_at500: int, screen_mean: float) -> bool:
        """Worth confirming: the screen ranks at least as high as the best (its fraction of 500s, then its
        mean), and the best could still be beaten."""
        best = self.best
        if best is None:
            return True
        if best.all_at500:
            return False
        return (Fraction(screen_at500, self.screen_size), screen_mean) >= best.rank

    @property
    def screen_size(self) -> int:
        return len(self.screen.seeds)

    def _cannot_matter(self, ended) -> bool:
        """The screen whose episodes that ended scored ``ended`` can decide nothing any more.

        Its best outcome, every episode still playing reaching 500, would not
        make it a candidate, nor (while none has) a screen reaching ``threshold``.
        """
        unfinished = self.screen_size - len(ended)
        at500 = _at500(ended) + unfinished
        mean = (sum(ended) + MAX_SCORE * unfinished) / self.screen_size
        return not self.is_candidate(at500, mean) and (self.first_reached is not None or mean < self.threshold)

    def __call__(self, agent, episode: int, score: int) -> bool:
        if not self.due(episode, score):
            return False
        start = time.perf_counter()
        try:
            return self._evaluate(agent, episode)
        finally:
            self.seconds += time.perf_counter() - start

    def _evaluate(self, agent, episode: int) -> bool:
        q_values = agent.q_values_snapshot()  # thousands of calls follow, all on this network
        screen, finished = self.screen.play(q_values, self._cannot_matter if self.cut_hopeless_screens else None)
        mean = _mean(screen)  # a cut screen is no candidate: its best outcome was not one
        confirmation = self.confirmation.play(q_values)[0] if self.is_candidate(_at500(screen), mean) else []
        if confirmation and self.proof.seeds and all(score >= MAX_SCORE for score in screen + confirmation):
            confirmation += self.proof.play(q_values)[0]
        record = EvaluationRecord(
            episode,
            mean,
            _at500(screen),
            len(screen),
            _mean(confirmation) if confirmation else None,
            _at500(confirmation) if confirmation else None,
            len(confirmation),
            self.best_score,
            saved=False,
            finished=finished,
        )
        if record.score is not None and (self.best is None or record.rank > self.best.rank):
            agent.save(self.best_path)  # atomic: write a sibling file, then rename
            record = replace(record, best=record.score, saved=True)
            self.best = record
        self.records.append(record)
        if self.first_reached is None and mean >= self.threshold:
            self.first_reached = record
        if confirmation:
            print(_evaluation_line(record), flush=True)
        self._write_log()
        if self.stop_at is not None and record.saved and solves(record, self.stop_at):
            self.stopped_at = record
            return True
        return False

    def _write_log(self):
        if self.log_path is not None:  # rewritten whole, atomically; nothing before the first evaluation
            write_csv(self.log_path, [f.name for f in fields(EvaluationRecord)], map(astuple, self.records))

    # -- checkpoints (cartpole_dqn.training.checkpoint) ---------------------------

    checkpoint_name = "evaluation"

    def checkpoint_state(self) -> dict:
        return {"records": [asdict(r) for r in self.records]}

    def restore_checkpoint_state(self, state: dict) -> None:
        """Go on from a checkpoint: its records, and so its best model (a resumed run saves only a better one)."""
        self.records = [EvaluationRecord(**record) for record in state["records"]]
        self.best = next((r for r in reversed(self.records) if r.saved), None)
        self.first_reached = next((r for r in self.records if r.mean >= self.threshold), None)
        if self.records:
            self._write_log()

    def saved_model_after(self, episode: int) -> bool:
        """Whether the evaluation after ``episode`` saved the best model (the checkpoint follows it)."""
        return bool(self.records) and self.records[-1].episode == episode and self.records[-1].saved

    def summary(self, model_path, saved_episodes) -> str:
        """The end-of-training line naming the last-500 model and the best model; then, unless the best model
        played 500 in every evaluation episode, what the run hands over and what to train instead."""
        last_saved = saved_episodes[-1] if saved_episodes else None
        # The hook runs right after the tutorial's save, so the evaluation of
        # that episode scored exactly the model in model_path.
        last_evaluation = next((r for r in self.records if r.episode == last_saved), None)
        confirmations = sum(r.confirm_mean is not None for r in self.records)
        cut = sum(r.cut_short for r in self.records)
        models = (
            models_summary(model_path, last_saved, last_evaluation, self.best_path, self.best, self.stopped_at)
            + f"; {len(self.records)} evaluations, {confirmations} confirmed, {cut} cut short, "
            f"in {self.seconds:.1f} s"
        )
        if self.best is not None and self.best.all_at500:
            return models
        solved_means = {"screen": self.screen_size, "confirmation": len(self.confirmation.seeds)}
        solved_means["proof"] = len(self.proof.seeds)
        play = play_best_command(model_path, self.best_path)
        return f"{models}\n{unsolved_line(self.best, self.best_path, play, solved_means)}"

    def close(self):
        self.screen.close()
        self.confirmation.close()
        self.proof.close()


def _at500(scores) -> int:
    return sum(score >= MAX_SCORE for score in scores)


def _evaluation_line(record: EvaluationRecord) -> str:
    """The line printed after a candidate's confirmation."""
    return (
        f"eval: mean={record.mean:.1f} at{MAX_SCORE}={record.at500}/{record.episodes} "
        f"confirm={record.confirm_mean:.1f} at{MAX_SCORE}={record.confirm_at500}/{record.confirm_episodes} "
        f"best={record.best:.1f}" + (" saved" if record.saved else "")
    )
