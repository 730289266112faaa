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

Learning (``--learning``): per seed, what a reader of the README gets from
``train --stop-when-solved``: train with evaluation after every episode until
the kept model played 500 in every screen and confirmation episode, or
``--max-episodes``; record the first episode whose evaluation mean reached
the threshold (475) and the wall time to it,
and the episode and time of the stop; then play the best model, and the
tutorial's last-500 model beside it, greedily for 20 episodes.  The study
(``--keep-training``) trains every seed for all ``--max-episodes``, with the
same evaluation, and also records how often the evaluation stays solved after
first solving (:func:`stays_solved_fraction`) and every evaluation's mean (one
CSV per seed, for the plot of the median against episodes).  Seeds run in
parallel worker processes (``--workers``); each seed is one call of
:func:`learn_one_seed`, which trains with :func:`cartpole_dqn.training_run.train`
(the run ``train`` makes, in a scratch folder, its printing captured); it is
a top-level function of plain, picklable values, so
another backend (a Ray cluster: ``cartpole_dqn.ray_cluster``) maps the same
function and writes the same CSV.

Every loop here is ``DQNAgent.run`` itself (the tutorial's is a subclass
with the tutorial's ``act`` and ``replay``): the benchmark only stops it from
outside, with an episode hook or a step budget on the environment.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import math
import statistics
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cartpole_dqn.agent import DQNAgent
from cartpole_dqn.compiled import threads_per_operation
from cartpole_dqn.environment import MAX_SCORE
from cartpole_dqn.evaluation import (
    DEFAULT_CONFIRM_EPISODES,
    DEFAULT_EVAL_EPISODES,
    DEFAULT_PROOF_EPISODES,
    EVERY_EPISODE_AT_500,
    SOLVED_THRESHOLD,
    TEST_EPISODES,
)
from cartpole_dqn.hyperparameters import DEFAULT_MODEL_PATH, DEFAULTS, Hyperparameters, flag_of
from cartpole_dqn.output_files import write_csv, written_atomically
from cartpole_dqn.parallel import map_in_processes
from cartpole_dqn.process import new_agent, prepare_process
from cartpole_dqn.progress import SeedProgress, episode_reporter
from cartpole_dqn.run_files import seed_evaluation_files, seed_evaluations, seed_log
from cartpole_dqn.training_run import TrainingSettings, train
from cartpole_dqn.tutorial_reference import TutorialAgent

WARMUP_STEPS = 200  # more than batch_size, so timed replays use full minibatches
UNLIMITED_EPISODES = 10**9  # the step budget, not EPISODES, ends a timed run
GOOD_TEST_FRACTION = 0.95  # a seed's best model is good when at least 19 of 20 test episodes reach 500


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
        tutorial = TutorialAgent(hyperparameters, seed=seed, model_path=model_path)
        tutorial.memory = deque(agent.memory, maxlen=hyperparameters.memory_size)  # uniform, as the tutorial's
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


@dataclass(frozen=True)
class SeedTask:
    """Everything one seed of the learning benchmark needs: plain values, so it can be pickled."""

    preset: str  # the recipe's name, for the CSV and the plot's legend
    hyperparameters: Hyperparameters  # EPISODES is the most episodes the seed may train
    seed: int
    eval_episodes: int = DEFAULT_EVAL_EPISODES
    confirm_episodes: int = DEFAULT_CONFIRM_EPISODES
    proof_episodes: int = DEFAULT_PROOF_EPISODES
    threshold: float = SOLVED_THRESHOLD  # the evaluation mean of first_reached and stays_solved
    test_episodes: int = TEST_EPISODES
    stop_at: float = EVERY_EPISODE_AT_500  # the means that stop the seed, as train --stop-when-solved [MEAN]
    keep_training: bool = False  # the study: train all EPISODES, never stop at the threshold
    progress: object = None  # a queue for live progress reports (progress.episode_reporter), or None


@dataclass(frozen=True)
class SeedResult:
    """One seed of the learning benchmark: one row of its CSV. Episodes count from 0, as printed."""

    preset: str
    seed: int
    max_episodes: int
    episodes: int  # episodes trained
    first_reached: int | None  # first episode whose evaluation mean reached the threshold
    seconds_to_first_reached: float | None
    solved: int | None  # the episode whose confirmed model stopped training (train --stop-when-solved)
    seconds: float  # training wall time, evaluation included, until the stop or max_episodes
    best_episode: int | None  # the episode whose network is the best model
    best_score: float | None  # its mean over the screen and confirmation episodes
    best_test_500s: int | None  # test episodes of the best model that reached 500
    best_test_mean: float | None
    last500_episode: int | None  # the tutorial's model: the network after the last training 500
    last500_test_500s: int | None
    last500_test_mean: float | None
    test_episodes: int
    # Of the evaluations after first_reached, the fraction whose mean reached the threshold (None: none came after).
    stays_solved: float | None = None


def stays_solved_fraction(means, threshold) -> float | None:
    """Of the evaluation means after the first that reached ``threshold``, the fraction at or above it.

    None when no mean reached it, or when the first that did was the last.
    """
    first = next((i for i, mean in enumerate(means) if mean >= threshold), None)
    later = means[first + 1 :] if first is not None else []
    return round(sum(mean >= threshold for mean in later) / len(later), 4) if later else None


def learn_one_seed(task: SeedTask) -> tuple[SeedResult, list[tuple[int, float, int | None]], str]:
    """Train one seed as ``train --stop-when-solved`` does (or all its episodes: ``keep_training``); test its
    best and last-500 models.

    Returns the result, each evaluation's (episode, screen mean, screen
    episodes finished), and everything the seed printed (training and test
    lines; the run's closing lines, which name its scratch folder, are left
    out).
    """
    output = io.StringIO()
    with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(output):
        settings = TrainingSettings(
            task.hyperparameters,
            seed=task.seed,
            model=Path(scratch) / DEFAULT_MODEL_PATH,
            keep_checkpoint=False,
            eval_episodes=task.eval_episodes,
            confirm_episodes=task.confirm_episodes,
            proof_episodes=task.proof_episodes,
            threshold=task.threshold,
            stop_when_solved=None if task.keep_training else task.stop_at,
            cut_hopeless_screens=not task.keep_training,
        )  # the study needs every screen's full mean
        progress = [episode_reporter(task.progress, task.seed)] if task.progress is not None else []
        run = train(settings, episode_hooks=progress, out=lambda line: None)
        if run.interrupted:
            raise KeyboardInterrupt  # no row for a seed that did not finish
        best_test = _test(task, run.files.best_model) if run.best is not None else None
        last500_test = _test(task, run.files.model) if run.saved_episodes else None
    first = run.first_reached
    result = SeedResult(
        task.preset,
        task.seed,
        task.hyperparameters.EPISODES,
        len(run.scores),
        _get(first, "episode"),
        round(run.episode_seconds[first.episode], 2) if first is not None else None,
        _get(run.stopped_at, "episode"),
        round(run.seconds, 2),
        _get(run.best, "episode"),
        _get(run.best, "score"),
        *_test_figures(best_test),
        run.saved_episodes[-1] if run.saved_episodes else None,
        *_test_figures(last500_test),
        task.test_episodes,
        stays_solved_fraction([r.mean for r in run.evaluations], task.threshold),
    )
    return result, [(r.episode, r.mean, r.finished) for r in run.evaluations], output.getvalue()


def _get(record, name):
    return getattr(record, name) if record is not None else None


def _test(task, model_path):
    """Greedy test scores of a saved model, as ``cartpole-dqn test --seed SEED`` plays them."""
    print(f"test of {model_path.name}:")
    return new_agent(task.hyperparameters.replace(EPISODES=task.test_episodes), task.seed, model_path=model_path).test()


def _test_figures(scores: list[int] | None) -> tuple[int | None, float | None]:
    if scores is None:
        return None, None
    return sum(score >= MAX_SCORE for score in scores), round(statistics.fmean(scores), 1)


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _show(value, fmt="{}"):
    return "none" if value is None else fmt.format(value)


LEARNING_HEADER = (
    f"{'seed':>4}  {'episodes':>8}  {'first eval>=T':>13}  {'seconds':>7}  {'solved at':>9}  "
    f"{'seconds':>7}  {'best: test 500s':>15}  {'mean':>5}  {'last 500: test 500s':>19}  {'mean':>5}  "
    f"{'stays solved':>12}"
)


def _row(r: SeedResult) -> str:
    return (
        f"{r.seed:>4}  {r.episodes:>8}  {_show(r.first_reached):>13}  "
        f"{_show(r.seconds_to_first_reached, '{:.1f}'):>7}  {_show(r.solved):>9}  {r.seconds:>7.1f}  "
        f"{_show(r.best_test_500s, '{}/' + str(r.test_episodes)):>15}  {_show(r.best_test_mean):>5}  "
        f"{_show(r.last500_test_500s, '{}/' + str(r.test_episodes)):>19}  {_show(r.last500_test_mean):>5}  "
        f"{_show(r.stays_solved, '{:.2f}'):>12}"
    )


def write_evaluations_csv(evaluations, path) -> Path:
    """One row per evaluation: its episode, its screen's mean and how many screen episodes finished (fewer than
    the screen's when it was cut short: the mean is then a lower bound; see ``evaluation``)."""
    return write_csv(path, ["episode", "mean", "finished"], evaluations)


def read_evaluation_means(path) -> list[float]:
    """The screen means ``write_evaluations_csv`` wrote, in episode order."""
    with open(path, newline="") as file:
        return [float(row["mean"]) for row in csv.DictReader(file)]


def run_learning(tasks, workers, csv_path, log_dir, out=print, mapper=None, where=None):
    """Run ``tasks`` (SeedTask) on ``workers`` processes (or with ``mapper``); print a table and the ``learning:``
    line.

    ``mapper(function, tasks)`` yields ``function(task)`` for each task in any
    order (default: worker processes); ``where`` says where it runs them.  As each seed finishes, its row joins
    ``csv_path`` (rewritten whole, so a run stopped early keeps the seeds it
    finished), its evaluation means go to
    ``<csv name>-evals/seed<N>.csv`` and its printed lines to
    ``log_dir``/<preset>-seed<N>.log (names: :mod:`cartpole_dqn.run_files`).
    """
    first = tasks[0]
    seeds = [task.seed for task in tasks]
    where = where or f"on {workers} worker process{'es' if workers > 1 else ''}"
    if first.keep_training:
        how = "train --keep-training (no stop when solved)"
    elif first.stop_at == EVERY_EPISODE_AT_500:
        how = f"train --stop-when-solved (stop: the best model at {MAX_SCORE} in every evaluation episode)"
    else:
        how = f"train --stop-when-solved {first.stop_at:g} (stop: the best model's means at {first.stop_at:g})"
    out(
        f"learning: preset {first.preset}, {settings_line(first.hyperparameters)}; seeds {seeds[0]}..{seeds[-1]} "
        f"{where}; {how} ({first.eval_episodes} evaluation + {first.confirm_episodes} confirmation episodes, "
        f"+ {first.proof_episodes} proof episodes when all reach {MAX_SCORE}; first reached: mean "
        f"{first.threshold:g}) for at most {first.hyperparameters.EPISODES} episodes, then "
        f"{first.test_episodes} greedy test episodes of the best and of the last-500 model"
    )
    out(LEARNING_HEADER)
    # Live progress from the worker processes (or this one); Ray's bars move as each seed finishes.
    progress = SeedProgress(tasks, live=mapper is None)
    if mapper is None:
        mapper = map if workers == 1 else lambda function, tasks: map_in_processes(function, tasks, workers)
    results = []
    for result, evaluations, output in progress.follow(mapper(learn_one_seed, progress.tasks)):
        with written_atomically(seed_log(log_dir, result.preset, result.seed)) as partial:
            partial.write_text(output)
        write_evaluations_csv(evaluations, seed_evaluations(csv_path, result.seed))
        results.append(result)
        results.sort(key=lambda r: r.seed)
        write_learning_csv(results, csv_path)
        out(_row(result))
    out(f"per-seed rows: {csv_path}; each seed's lines: {log_dir}")
    out(learning_line(results))
    return results


def run_study(tasks, workers, csv_path, plot_path, ray=None, out=print) -> None:
    """``bench --learning``: :func:`run_learning` on ``workers`` processes, or as Ray tasks, then the plot.

    ``ray``: None, or a Ray cluster's address (``ray_cluster.LOCAL_RUNTIME``:
    a local runtime).  Each seed's lines go beside ``csv_path``; the plot,
    to ``plot_path``, has one curve per CSV in that folder.
    """
    workers = min(workers, len(tasks))
    if ray is None:
        run_learning(tasks, workers, csv_path, csv_path.parent, out=out)
    else:
        from cartpole_dqn.ray_cluster import LOCAL_RUNTIME, ray_mapper

        address = None if ray == LOCAL_RUNTIME else ray
        run_learning(
            tasks,
            workers,
            csv_path,
            csv_path.parent,
            out=out,
            mapper=ray_mapper(address),
            where=f"as Ray tasks ({'a local runtime' if address is None else address})",
        )
    if tasks[0].keep_training:
        curves, plot = plot_study(csv_path.parent, plot_path)
    else:
        curves, plot = plot_fraction_solved(csv_path.parent, plot_path)
    out(f"plot of {', '.join(curves)}: {plot}")


def plot_fraction_solved(folder, plot):
    """The fraction of seeds solved against episodes, one curve per learning CSV in ``folder``."""
    from cartpole_dqn import plots

    curves = {}
    for path in sorted(Path(folder).glob("*.csv")):
        rows = read_learning_csv(path)
        curves[path.stem] = ([r.solved for r in rows], max(r.max_episodes for r in rows))
    return curves, plots.plot_fraction_solved(curves, plot)


def plot_study(folder, plot):
    """The median evaluation mean against episodes, one curve per study CSV in ``folder``."""
    from cartpole_dqn.plots import plot_evaluation_medians

    curves = {}
    for path in sorted(Path(folder).glob("*.csv")):
        seeds = seed_evaluation_files(path)
        if seeds:
            curves[path.stem] = [read_evaluation_means(seed) for seed in seeds]
    return curves, plot_evaluation_medians(curves, plot, SOLVED_THRESHOLD)


def learning_line(results) -> str:
    """The machine-readable summary of one preset's seeds."""
    n = len(results)
    tests = results[0].test_episodes
    good = sum(r.best_test_500s is not None and r.best_test_500s >= GOOD_TEST_FRACTION * tests for r in results)
    return (
        f"learning: preset={results[0].preset} solved={sum(r.solved is not None for r in results)}/{n} "
        f"median_solved_episode={_show(_median([r.solved for r in results]))} "
        f"median_seconds={_median([r.seconds for r in results]):.1f} "
        f"best_test_at_least_{math.ceil(GOOD_TEST_FRACTION * tests)}of{tests}={good}/{n} "
        f"median_best_test_500s={_show(_median([r.best_test_500s for r in results]))}/{tests} "
        f"median_last500_test_500s={_show(_median([r.last500_test_500s for r in results]))}/{tests} "
        f"reached={sum(r.first_reached is not None for r in results)}/{n} "
        f"median_first_reached={_show(_median([r.first_reached for r in results]))} "
        f"median_seconds_to_first_reached="
        f"{_show(_median([r.seconds_to_first_reached for r in results]), '{:.1f}')} "
        f"median_stays_solved={_show(_median([r.stays_solved for r in results]), '{:.2f}')}"
    )


def write_learning_csv(results, path) -> Path:
    return write_csv(
        path,
        [f.name for f in dataclasses.fields(SeedResult)],
        [["" if value is None else value for value in dataclasses.astuple(result)] for result in results],
    )


def read_learning_csv(path) -> list[SeedResult]:
    """The rows ``write_learning_csv`` wrote, with their types back."""
    types = {
        f.name: (float if "float" in str(f.type) else int if "int" in str(f.type) else str)
        for f in dataclasses.fields(SeedResult)
    }
    with open(path, newline="") as file:
        rows: list[dict[str, Any]] = [
            {name: None if value == "" else types[name](value) for name, value in row.items()}
            for row in csv.DictReader(file)
        ]
    return [SeedResult(**row) for row in rows]
