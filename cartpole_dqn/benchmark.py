"""``cartpole-dqn bench``: how fast the package trains, and how often it learns.

Speed (the default): one process times, on the same machine,
  * the package's training loop (``DQNAgent.run``, the tutorial's
    hyperparameters unless flags change them, a replay after every step, no
    rendering) in environment steps per second;
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

Every loop here is ``DQNAgent.run`` itself (the tutorial's is a subclass
with the tutorial's ``act`` and ``replay``): the benchmark only stops it from
outside, with an episode hook or a step budget on the environment.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cartpole_dqn.agent import DQNAgent
from cartpole_dqn.compiled import threads_per_operation
from cartpole_dqn.environment import MAX_SCORE
from cartpole_dqn.evaluation import TEST_EPISODES
from cartpole_dqn.hyperparameters import DEFAULTS, flag_of
from cartpole_dqn.process import prepare_process
from cartpole_dqn.tutorial_reference import TutorialAgent

WARMUP_STEPS = 200  # more than batch_size, so timed replays use full minibatches
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


@dataclass
class Timing:
    """Wall-clock and CPU seconds (all threads of this process) of one measurement."""

    wall: float = 0.0
    cpu: float = 0.0

    @contextlib.contextmanager
    def add(self):
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu


def time_training_loop(agent, steps) -> Timing:
    """How long ``agent.run()`` takes for ``steps`` environment steps (its printing silenced)."""
    timing = Timing()
    with contextlib.redirect_stdout(io.StringIO()), timing.add(), _step_budget(agent, steps):
        agent.run()
    return timing


def _warm_up_keras(tutorial):
    states = tutorial.sample_minibatch()[0]
    targets = tutorial.model.predict(states[:1], verbose=0)
    tutorial.model.fit(states, np.repeat(targets, len(states), axis=0), batch_size=len(states), verbose=0)


def time_bare_update(agent, updates) -> Timing:
    """How long ``updates`` replay updates (targets + gradient step) take, sampling left out.

    One untimed update first: the loop's replay is a different compiled call
    (it also evaluates the next state), so this one is traced here.
    """
    agent.network.train_step(agent.sample_minibatch(), agent.gamma)
    timing = Timing()
    for _ in range(updates):
        minibatch = agent.sample_minibatch()
        with timing.add():
            agent.network.train_step(minibatch, agent.gamma)
    return timing


def _settings(hyperparameters):
    changed = [f"{flag_of(name)} {value}" for name, value in hyperparameters.differences(DEFAULTS).items()
               if name != "EPISODES"]
    return "the tutorial's hyperparameters" + (f" except {', '.join(changed)}" if changed else "")


def run_speed(hyperparameters, steps, tutorial_steps, updates, seed, out=print):
    """Time the three things the module docstring lists; print them and the ``bench:`` line."""
    out(f"speed: {_settings(hyperparameters)}, replay after every step, no rendering, seed {seed}")
    with tempfile.TemporaryDirectory() as scratch:
        model_path = Path(scratch) / "bench.h5"  # never the user's cartpole-dqn.h5
        hyperparameters = hyperparameters.replace(EPISODES=UNLIMITED_EPISODES)
        prepare_process(seed)
        agent = DQNAgent(hyperparameters, seed=seed, model_path=model_path)
        out(f"threads: {threads_per_operation()} per TensorFlow operation, for both the package and the tutorial")
        out(f"warm-up: {WARMUP_STEPS} steps of the package's loop, not timed (tracing, first minibatches)")
        time_training_loop(agent, WARMUP_STEPS)
        loop = time_training_loop(agent, steps)
        steps_per_s = steps / loop.wall
        out(f"package loop:  {steps} steps in {loop.wall:.2f} s = {steps_per_s:.1f} steps/s "
            f"({1000 * loop.wall / steps:.2f} ms/step, CPU {1000 * loop.cpu / steps:.2f} ms/step; "
            f"epsilon now {agent.epsilon:.3f})")

        update = time_bare_update(agent, updates)
        loop_overhead = (loop.wall / steps) / (update.wall / updates)
        out(f"bare update:   {1000 * update.wall / updates:.2f} ms (CPU {1000 * update.cpu / updates:.2f} ms; "
            f"mean of {updates}, batch {agent.batch_size}); loop step / update = {loop_overhead:.2f} "
            f"(CPU: {(loop.cpu / steps) / (update.cpu / updates):.2f})")

        # The tutorial's loop starts from the package loop's memory and epsilon,
        # so its replays sample full minibatches and it acts greedily as often.
        prepare_process(seed)  # the same initial weights as the package's agent
        tutorial = TutorialAgent(hyperparameters, seed=seed, model_path=model_path)
        tutorial.memory = deque(agent.memory, maxlen=agent.memory.maxlen)
        tutorial.epsilon = agent.epsilon
        out("warm-up: one predict and one fit of a full minibatch, not timed (Keras builds both on first use)")
        _warm_up_keras(tutorial)
        tutorial_timing = time_training_loop(tutorial, tutorial_steps)
    tutorial_steps_per_s = tutorial_steps / tutorial_timing.wall
    speedup = steps_per_s / tutorial_steps_per_s
    out(f"tutorial loop: {tutorial_steps} steps in {tutorial_timing.wall:.2f} s = {tutorial_steps_per_s:.3f} steps/s "
        f"({tutorial_timing.wall / tutorial_steps:.2f} s/step, CPU {tutorial_timing.cpu / tutorial_steps:.2f} s/step: "
        "model.predict per sample, fit per batch)")
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
    return score >= MAX_SCORE


def learn_one_seed(hyperparameters, seed, scratch) -> SeedResult:
    """Train one seed until its first 500 (the model is saved then); test that model."""
    model_path = Path(scratch) / f"seed{seed}.h5"
    prepare_process(seed)
    agent = DQNAgent(hyperparameters, seed=seed, model_path=model_path)
    agent.episode_hooks.append(_stop_at_first_500)
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        scores = agent.run()
        seconds = time.perf_counter() - start
        if not agent.saved_episodes:
            return SeedResult(seed, len(scores), None, seconds, None)
        prepare_process(seed)
        tester = DQNAgent(hyperparameters.replace(EPISODES=TEST_EPISODES), seed=seed, model_path=model_path)
        test_scores = tester.test()
    return SeedResult(seed, len(scores), agent.saved_episodes[0], seconds,
                      sum(score >= MAX_SCORE for score in test_scores))


def _median(values):
    return statistics.median(values) if values else None


def _show(value, fmt="{}"):
    return "none" if value is None else fmt.format(value)


def run_learning(hyperparameters, seeds, first_seed, out=print):
    """Train and test ``seeds`` seeds; print a table and the ``learning:`` line.

    ``hyperparameters.EPISODES`` is the most episodes a seed may train.
    """
    out(f"learning: seeds {first_seed}..{first_seed + seeds - 1}, {_settings(hyperparameters)}, stop at the first "
        f"{MAX_SCORE} or after {hyperparameters.EPISODES} episodes, then {TEST_EPISODES} greedy tests")
    out(f"{'seed':>4}  {'episodes':>8}  {'first 500 at':>12}  {'seconds':>8}  {'test 500s':>9}")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(first_seed, first_seed + seeds):
            r = learn_one_seed(hyperparameters, seed, scratch)
            results.append(r)
            out(f"{r.seed:>4}  {r.episodes:>8}  {_show(r.first500, 'episode {}'):>12}  {r.seconds:>8.1f}  "
                f"{_show(r.test_500s, '{}/' + str(TEST_EPISODES)):>9}")
    solved = [r for r in results if r.first500 is not None]
    out(f"medians over the {len(solved)} seed{'' if len(solved) == 1 else 's'} that reached {MAX_SCORE}; "
        "the others saved no model")
    out(f"learning: solved={len(solved)}/{seeds} "
        f"median_first500_episode={_show(_median([r.first500 for r in solved]))} "
        f"median_seconds={_show(_median([r.seconds for r in solved]), '{:.1f}')} "
        f"median_test_500s={_show(_median([r.test_500s for r in solved]))}/{TEST_EPISODES}")
    return results
