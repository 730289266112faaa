"""``cartpole-dqn bench speed``: how fast the package trains, against the tutorial's own code.

One process times, on the same machine,
  * the package's training loop (``DQNAgent.run``, the tutorial's
    hyperparameters unless flags change them, a replay after every step, no
    rendering) in environment steps per second;
  * the tutorial's own loop on a few steps: ``model.predict`` to act and the
    literal per-sample replay of ``tutorial_reference.tutorial_replay``;
  * the bare replay update (batched targets + one gradient step, batch 128),
    to show how much of the loop is Python around the update.
Each is warmed up first (TensorFlow traces and compiles a function on its
first call, Keras builds ``predict``/``fit`` on theirs), and the warm-up is
left out of the timings.  Every loop is ``DQNAgent.run`` itself (the tutorial's is a subclass with the
tutorial's ``act`` and ``replay``), stopped from outside by a step budget on the environment; the profile
(:mod:`cartpole_dqn.bench.profile`) and the SB3 side by side time it the same way, on a :func:`scratch_agent`.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cartpole_dqn.agent import DQNAgent
from cartpole_dqn.compiled import threads_per_operation
from cartpole_dqn.hyperparameters import DEFAULTS, flag_of
from cartpole_dqn.process import prepare_process
from cartpole_dqn.tutorial_reference import TutorialAgent
from cartpole_dqn.uniform_memory import UniformMemory

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


@contextlib.contextmanager
def scratch_agent(hyperparameters, seed: int):
    """A seeded ``DQNAgent`` for timing: no episode limit (a step budget ends each timed run) and its model file
    in a scratch folder, never the user's ``cartpole-dqn.h5``."""
    with tempfile.TemporaryDirectory() as scratch:
        prepare_process(seed)
        yield DQNAgent(
            hyperparameters.replace(EPISODES=UNLIMITED_EPISODES), seed=seed, model_path=Path(scratch) / "bench.h5"
        )


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


def settings_line(hyperparameters) -> str:
    """How ``hyperparameters`` differ from the tutorial's, in flags: the benchmarks' heading."""
    changed = [
        f"{flag_of(name)} {value}"
        for name, value in hyperparameters.differences(DEFAULTS).items()
        if name != "EPISODES"
    ]
    return "the tutorial's hyperparameters" + (f" except {', '.join(changed)}" if changed else "")


def replay_schedule(hyperparameters) -> str:
    """When the loop replays, in words: the benchmarks' heading."""
    every = hyperparameters.replay_every
    return "replay after every step" if every == 1 else f"replay after every {every}th step of an episode"


def run_speed(hyperparameters, steps, tutorial_steps, updates, seed, out=print):
    """Time the three things the module docstring lists; print them and the ``bench:`` line."""
    out(f"speed: {settings_line(hyperparameters)}, {replay_schedule(hyperparameters)}, no rendering, seed {seed}")
    with scratch_agent(hyperparameters, seed) as agent:
        out(f"threads: {threads_per_operation()} per TensorFlow operation, for both the package and the tutorial")
        out(f"warm-up: {WARMUP_STEPS} steps of the package's loop, not timed (tracing, first minibatches)")
        time_training_loop(agent, WARMUP_STEPS)
        loop = time_training_loop(agent, steps)
        steps_per_s = steps / loop.wall
        out(
            f"package loop:  {steps} steps in {loop.wall:.2f} s = {steps_per_s:.1f} steps/s "
            f"({1000 * loop.wall / steps:.2f} ms/step, CPU {1000 * loop.cpu / steps:.2f} ms/step; "
            f"epsilon now {agent.epsilon:.3f})"
        )

        update = time_bare_update(agent, updates)
        loop_overhead = (loop.wall / steps) / (update.wall / updates)
        out(
            f"bare update:   {1000 * update.wall / updates:.2f} ms (CPU {1000 * update.cpu / updates:.2f} ms; "
            f"mean of {updates}, batch {agent.batch_size}); loop step / update = {loop_overhead:.2f} "
            f"(CPU: {(loop.cpu / steps) / (update.cpu / updates):.2f})"
        )

        # The tutorial's loop starts from the package loop's memory and epsilon,
        # so its replays sample full minibatches and it acts greedily as often.
        prepare_process(seed)  # the same initial weights as the package's agent
        tutorial = TutorialAgent(agent.hyperparameters, seed=seed, model_path=agent.model_path)
        tutorial.memory = UniformMemory(agent.memory, maxlen=hyperparameters.memory_size)  # uniform, as the tutorial's
        tutorial.epsilon = agent.epsilon
        out("warm-up: one predict and one fit of a full minibatch, not timed (Keras builds both on first use)")
        _warm_up_keras(tutorial)
        tutorial_timing = time_training_loop(tutorial, tutorial_steps)
    tutorial_steps_per_s = tutorial_steps / tutorial_timing.wall
    speedup = steps_per_s / tutorial_steps_per_s
    out(
        f"tutorial loop: {tutorial_steps} steps in {tutorial_timing.wall:.2f} s = {tutorial_steps_per_s:.3f} steps/s "
        f"({tutorial_timing.wall / tutorial_steps:.2f} s/step, CPU {tutorial_timing.cpu / tutorial_steps:.2f} s/step: "
        "model.predict per sample, fit per batch)"
    )
    out(f"speedup: {speedup:.0f}x")
    out(
        f"bench: steps_per_s={steps_per_s:.1f} tutorial_steps_per_s={tutorial_steps_per_s:.4f} "
        f"speedup={speedup:.1f} loop_overhead={loop_overhead:.3f}"
    )
