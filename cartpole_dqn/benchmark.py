"""``cartpole-dqn bench``: how fast the package trains, and how often it learns.

Speed (the default): one process times, on the same machine,
  * the package's training loop (``DQNAgent.run``, default hyperparameters,
    a replay after every step, no rendering) in environment steps per second;
  * the tutorial's own loop on a few steps: ``model.predict`` to act and the
    literal per-sample replay of ``tutorial_reference.tutorial_replay``;
  * the bare replay update (batched targets + one gradient step, batch 128),
    to show how much of the loop is Python around the update.
Each is warmed up first (TensorFlow traces and compiles a function on its
first call, Keras builds ``predict``/``fit`` on theirs), and the warm-up is
left out of the timings.

Learning (``--learning``): per seed, train with the tutorial's settings until
an episode first scores 500 (the tutorial saves the model then) or until
``--max-episodes``; then play the saved model greedily for 20 episodes.

Both loops are ``DQNAgent.run`` itself: the benchmark only stops it from
outside (an episode hook, or a step budget on the environment).
"""

from __future__ import annotations

import contextlib
import io
import random
import statistics
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cartpole_dqn.agent import DQNAgent
from cartpole_dqn.cli import DEFAULT_TEST_EPISODES
from cartpole_dqn.hyperparameters import DEFAULTS
from cartpole_dqn.summary import SOLVED_SCORE
from cartpole_dqn.tutorial_reference import tutorial_replay

WARMUP_STEPS = 200  # more than batch_size, so timed replays use full minibatches
TEST_EPISODES = DEFAULT_TEST_EPISODES  # the tutorial's test run
UNLIMITED_EPISODES = 10**9  # the step budget, not EPISODES, ends a timed run


class _BudgetSpent(Exception):
    """Raised by the environment when a timed run has taken its steps."""


@contextlib.contextmanager
def _step_budget(agent, steps):
    """Let ``agent.env`` take ``steps`` steps, then stop ``agent.run`` with _BudgetSpent."""
    env_step = agent.env.step
    taken = 0

    def budgeted_step(action):
        nonlocal taken
        if taken == steps:
            raise _BudgetSpent
        taken += 1
        return env_step(action)

    agent.env.step = budgeted_step
    try:
        yield
    except _BudgetSpent:
        pass
    finally:
        del agent.env.step  # the environment's own method again


def time_training_loop(agent, steps) -> float:
    """Seconds that ``agent.run()`` takes for ``steps`` environment steps (its printing silenced)."""
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        with _step_budget(agent, steps):
            agent.run()
        return time.perf_counter() - start


class TutorialAgent(DQNAgent):
    """The package's agent with the tutorial's own ``act`` and ``replay``: the yardstick."""

    def act(self, state):
        if np.random.random() <= self.epsilon:
            return random.randrange(self.action_size)
        return int(np.argmax(self.model.predict(state, verbose=0)))

    def replay(self):
        tutorial_replay(self, random.sample(self.memory, min(len(self.memory), self.batch_size)))


def _warm_up_keras(tutorial):
    states = tutorial.sample_minibatch()[0]
    targets = tutorial.model.predict(states[:1], verbose=0)
    tutorial.model.fit(states, np.repeat(targets, len(states), axis=0), batch_size=len(states), verbose=0)


def time_bare_update(agent, updates) -> float:
    """Mean seconds of one replay update (targets + gradient step) on sampled minibatches."""
    total = 0.0
    for _ in range(updates):
        minibatch = agent.sample_minibatch()
        start = time.perf_counter()
        agent.fit_minibatch(*minibatch)
        total += time.perf_counter() - start
    return total / updates


def run_speed(steps, tutorial_steps, updates, seed, out=print):
    """Time the three things the module docstring lists; print them and the ``bench:`` line."""
    with tempfile.TemporaryDirectory() as scratch:
        model_path = Path(scratch) / "bench.h5"  # never the user's cartpole-dqn.h5
        hyperparameters = DEFAULTS.replace(EPISODES=UNLIMITED_EPISODES)
        agent = DQNAgent(hyperparameters, seed=seed, model_path=model_path)
        out(f"warm-up: {WARMUP_STEPS} steps of the package's loop, not timed (tracing, first minibatches)")
        time_training_loop(agent, WARMUP_STEPS)
        seconds = time_training_loop(agent, steps)
        steps_per_s = steps / seconds
        out(f"package loop:  {steps} steps in {seconds:.2f} s = {steps_per_s:.1f} steps/s "
            f"({1000 * seconds / steps:.2f} ms/step, epsilon now {agent.epsilon:.3f})")

        update = time_bare_update(agent, updates)
        loop_overhead = (seconds / steps) / update
        out(f"bare update:   {1000 * update:.2f} ms (mean of {updates}, batch {agent.batch_size}); "
            f"loop step / update = {loop_overhead:.2f}")

        # The tutorial's loop starts from the package loop's memory and epsilon,
        # so its replays sample full minibatches and it acts greedily as often.
        tutorial = TutorialAgent(hyperparameters, seed=seed, model_path=model_path)
        tutorial.memory = deque(agent.memory, maxlen=agent.memory.maxlen)
        tutorial.epsilon = agent.epsilon
        out("warm-up: one predict and one fit of a full minibatch, not timed (Keras builds both on first use)")
        _warm_up_keras(tutorial)
        tutorial_seconds = time_training_loop(tutorial, tutorial_steps)
    tutorial_steps_per_s = tutorial_steps / tutorial_seconds
    speedup = steps_per_s / tutorial_steps_per_s
    out(f"tutorial loop: {tutorial_steps} steps in {tutorial_seconds:.2f} s = {tutorial_steps_per_s:.3f} steps/s "
        f"({tutorial_seconds / tutorial_steps:.2f} s/step: model.predict per sample, fit per batch)")
    out(f"speedup: {speedup:.0f}x")
    out(f"bench: steps_per_s={steps_per_s:.1f} tutorial_steps_per_s={tutorial_steps_per_s:.4f} "
        f"speedup={speedup:.1f} loop_overhead={loop_overhead:.3f}")


@dataclass
class SeedResult:
    seed: int
    episodes: int  # episodes played
    first500: int | None  # the loop's episode number (as printed, from 0) of the first 500
    seconds: float  # training wall time, until the first 500 or max episodes
    test_500s: int | None  # test episodes of the saved model that reached 500


def _stop_at_first_500(agent, episode, score):
    return score >= SOLVED_SCORE


def learn_one_seed(seed, max_episodes, scratch) -> SeedResult:
    """Train one seed until its first 500 (the model is saved then); test that model."""
    model_path = Path(scratch) / f"seed{seed}.h5"
    agent = DQNAgent(DEFAULTS.replace(EPISODES=max_episodes), seed=seed, model_path=model_path)
    agent.episode_hooks.append(_stop_at_first_500)
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        scores = agent.run()
        seconds = time.perf_counter() - start
        if not agent.saved_episodes:
            return SeedResult(seed, len(scores), None, seconds, None)
        tester = DQNAgent(DEFAULTS.replace(EPISODES=TEST_EPISODES), seed=seed, model_path=model_path)
        test_scores = tester.test()
    return SeedResult(seed, len(scores), agent.saved_episodes[0], seconds,
                      sum(score >= SOLVED_SCORE for score in test_scores))


def _median(values):
    return statistics.median(values) if values else None


def _show(value, fmt="{}"):
    return "none" if value is None else fmt.format(value)


def run_learning(seeds, max_episodes, first_seed, out=print):
    """Train and test ``seeds`` seeds; print a table and the ``learning:`` line."""
    out(f"learning: seeds {first_seed}..{first_seed + seeds - 1}, tutorial settings, "
        f"stop at the first {SOLVED_SCORE} or after {max_episodes} episodes, then {TEST_EPISODES} greedy tests")
    out(f"{'seed':>4}  {'episodes':>8}  {'first 500 at':>12}  {'seconds':>8}  {'test 500s':>9}")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(first_seed, first_seed + seeds):
            r = learn_one_seed(seed, max_episodes, scratch)
            results.append(r)
            out(f"{r.seed:>4}  {r.episodes:>8}  {_show(r.first500, 'episode {}'):>12}  {r.seconds:>8.1f}  "
                f"{_show(r.test_500s, '{}/' + str(TEST_EPISODES)):>9}")
    solved = [r for r in results if r.first500 is not None]
    out(f"medians over the {len(solved)} seeds that reached {SOLVED_SCORE}; the others saved no model")
    out(f"learning: solved={len(solved)}/{seeds} "
        f"median_first500_episode={_show(_median([r.first500 for r in solved]))} "
        f"median_seconds={_show(_median([r.seconds for r in solved]), '{:.1f}')} "
        f"median_test_500s={_show(_median([r.test_500s for r in solved]))}/{TEST_EPISODES}")
    return results
