"""One training run, from its first check to its closing lines.

:func:`train` owns a run.  ``cartpole-dqn train`` turns its flags into
:class:`TrainingSettings` and calls it; ``bench learning`` calls it for each
seed (in a scratch folder, its printing captured); tests and scripts call it
too, with an agent factory or episode hooks of their own.  In order, it

1. checks the settings, every file the run will write (each named by
   :class:`~cartpole_dqn.training.run_files.RunFiles` from ``model`` and ``log_dir``)
   and the checkpoint to resume from, all before TensorFlow loads: a bad one
   is a one-line ``UserError``, and nothing is written;
2. makes the agent with ``agent_factory`` (by default
   :func:`~cartpole_dqn.process.new_agent`: TensorFlow loaded quietly, the
   process prepared and seeded) and gives it its episode hooks: the evaluator
   (unless ``eval_episodes`` is 0), the episode log, TensorBoard (with
   ``tensorboard``), the caller's, and the checkpointer (unless
   ``keep_checkpoint`` is False), in the one order ``_RunHooks.in_order`` gives, and why;
3. with ``resume``, restores the checkpoint and prints ``resumed from ...``;
4. runs ``agent.run()``, which prints the tutorial's episode lines (and the
   evaluator its ``eval:`` lines); Ctrl-C (KeyboardInterrupt) stops training
   there, with everything saved so far kept, and the run goes on to its end;
5. closes the environment (a window closes before the closing lines), draws
   the score plot and prints the closing lines: the summary (episodes,
   steps, speed, the model, the logs, the checkpoint), then with evaluation
   the models line, then the line naming the file to watch and the command
   that plays it;
6. returns a :class:`TrainingResult`.

The run's own lines (the resume line and the closing lines) go to ``out``.
Evaluation, logs, TensorBoard and checkpoints never change training: a seeded
run prints the same episodes with or without them.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cartpole_dqn.environment import make_env
from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import DEFAULT_MODEL_PATH, DEFAULTS, Hyperparameters
from cartpole_dqn.output_files import check_file, check_folder, check_model_path
from cartpole_dqn.process import new_agent
from cartpole_dqn.training import checkpoint
from cartpole_dqn.training.evaluation import (
    DEFAULT_CONFIRM_EPISODES,
    DEFAULT_EVAL_EPISODES,
    DEFAULT_EVAL_EVERY,
    DEFAULT_PROOF_EPISODES,
    Evaluator,
)
from cartpole_dqn.training.evaluation_record import EvaluationRecord
from cartpole_dqn.training.run_files import RunFiles
from cartpole_dqn.training.summary import training_summary
from cartpole_dqn.training.training_log import TrainingLog
from cartpole_dqn.training.watch_line import watch_line

if TYPE_CHECKING:
    from cartpole_dqn.agent import DQNAgent, EpisodeHook


@dataclass(frozen=True)
class TrainingSettings:
    """What a run is asked to do: the ``train`` command's flags as values (its ``--help`` says more)."""

    hyperparameters: Hyperparameters = DEFAULTS
    seed: int | None = None
    render: str = "none"
    model: str | Path = DEFAULT_MODEL_PATH  # every other file's name derives from it (RunFiles)
    log_dir: str | Path | None = None  # the logs' folder; None: beside the model
    tensorboard: str | Path | None = None  # TensorBoard's folder; None: no TensorBoard
    resume: bool | str | Path = False  # True: from the checkpoint beside the model; a path: from that one
    keep_checkpoint: bool = True
    checkpoint_every: float = checkpoint.DEFAULT_INTERVAL  # seconds
    eval_episodes: int = DEFAULT_EVAL_EPISODES  # 0: no evaluation, no best model
    eval_every: int = DEFAULT_EVAL_EVERY
    confirm_episodes: int = DEFAULT_CONFIRM_EPISODES
    proof_episodes: int = DEFAULT_PROOF_EPISODES  # 0: a model is solved on its screen and confirmation
    best_model: str | Path | None = None  # None: beside the model
    stop_when_solved: float | None = None  # stop once the best model's means reach it (500: every episode at 500)
    cut_hopeless_screens: bool = True  # stop a screen early once it can decide nothing (see evaluation)
    threshold: float | None = None  # the mean whose first screen is first_reached; None: stop_when_solved, or 475

    @property
    def files(self) -> RunFiles:
        return RunFiles.for_model(self.model, self.log_dir, self.best_model)


@dataclass(frozen=True)
class TrainingResult:
    """What a run did."""

    scores: list[int]  # every episode's, those before the resumed checkpoint included
    saved_episodes: list[int]  # the episodes after which the tutorial's rule saved the model
    interrupted: bool  # stopped by Ctrl-C
    seconds: float  # this session's training time, its evaluations included
    episode_seconds: list[float]  # per episode of this session: seconds from the start to its end, hooks included
    evaluations: list[EvaluationRecord]
    best: EvaluationRecord | None  # the evaluation whose network is the best model
    first_reached: EvaluationRecord | None  # the first whose screen mean reached the threshold
    stopped_at: EvaluationRecord | None  # the one that stopped training (stop_when_solved)
    files: RunFiles  # the run's file names; which it wrote: saved_episodes, best, plot, checkpoints
    plot: Path | None  # the score plot; None when no episode finished
    checkpoints: int  # checkpoints written


def _say(line: str) -> None:
    print(line, flush=True)


def train(
    settings: TrainingSettings,
    *,
    agent_factory: Callable[..., DQNAgent] = new_agent,
    episode_hooks: Sequence[EpisodeHook] = (),
    evaluation_watchers: Sequence[Callable[[Evaluator | None], EpisodeHook]] = (),
    out: Callable[[str], None] = _say,
) -> TrainingResult:
    """Run the training ``settings`` ask for, as the module docstring says; return what happened.

    :param settings: the run's recipe, seed, files, evaluation and checkpoints.
    :param agent_factory: called as ``agent_factory(hyperparameters, seed, render=..., model_path=...)``;
        returns the agent to train (a ``DQNAgent``, or anything with its ``run``, ``episode_hooks``, ``scores``,
        ``saved_episodes`` and ``env``).
    :param episode_hooks: more episode hooks (``agent.EpisodeHook``), called after the log and TensorBoard.
    :param evaluation_watchers: makers of more episode hooks, each given the run's Evaluator (None when
        evaluation is off) to read, as ``bench learning``'s progress bars do; called after ``episode_hooks``.
    :param out: where the run's own lines go.
    """
    hyperparameters = settings.hyperparameters.validated()
    files = settings.files
    evaluator, resume_from = _check_before_starting(settings, files, hyperparameters)
    agent = agent_factory(hyperparameters, settings.seed, render=settings.render, model_path=settings.model)
    callers = [*episode_hooks, *(watch(evaluator) for watch in evaluation_watchers)]
    hooks = _RunHooks(settings, files, evaluator, callers)
    agent.episode_hooks.extend(hooks.in_order())
    if resume_from is not None:
        _resume(agent, resume_from, hooks.checkpointed, out)
    seconds, interrupted = _run(agent, hooks)
    return _close(settings, files, agent, hooks, seconds, interrupted, out)


def _check_before_starting(
    settings: TrainingSettings, files: RunFiles, hyperparameters: Hyperparameters
) -> tuple[Evaluator | None, Path | None]:
    """Step 1: the settings, every output and the checkpoint to resume from, before TensorFlow loads."""
    check_model_path(files.model)  # first: the other names derive from it
    evaluator = _evaluator(settings, files)
    _check_outputs(settings, files, evaluator)
    return evaluator, _checkpoint_to_resume(settings, files, hyperparameters)


class _RunHooks:
    """Step 2: the run's episode hooks, and the one order they run in (:meth:`in_order` says why)."""

    def __init__(self, settings: TrainingSettings, files: RunFiles, evaluator: Evaluator | None, callers: list):
        self.evaluator = evaluator
        self.log = TrainingLog(files.training_log, files.training_plot)
        self.checkpointed: list[checkpoint.CheckpointedHook] = [
            hook for hook in (evaluator, self.log) if hook is not None
        ]
        self.episode_seconds: list[float] = []
        self.start = time.perf_counter()
        self.tensorboard = None
        if settings.tensorboard:
            from cartpole_dqn.training.tensorboard_log import TensorBoardLog

            self.tensorboard = TensorBoardLog(settings.tensorboard)
        self.callers = callers
        self.checkpointer = None
        if settings.keep_checkpoint:
            self.checkpointer = checkpoint.Checkpointer(files.checkpoint, settings.checkpoint_every, self.checkpointed)

    def clock(self, agent, episode: int, score: int) -> None:
        self.episode_seconds.append(time.perf_counter() - self.start)

    def in_order(self) -> list[EpisodeHook]:
        """The evaluator first: it may save the best model and ask training to stop, and the log records the
        episode it judged; then the clock, after the evaluation, so an episode's seconds include its cost; then
        TensorBoard and the caller's hooks, which see the episode as logged; the checkpointer last, since it saves
        the state every hook before it left."""
        first = [hook for hook in (*self.checkpointed, self.clock, self.tensorboard) if hook is not None]
        return [*first, *self.callers, *([self.checkpointer] if self.checkpointer is not None else [])]


def _resume(agent: DQNAgent, path: Path, hooks: list[checkpoint.CheckpointedHook], out: Callable[[str], None]):
    """Step 3: the checkpoint's state into the agent and the hooks it holds."""
    checkpoint.restore(agent, path, hooks)
    out(
        f"resumed from {path} after episode {agent.resume_episode - 1}: epsilon {agent.epsilon:.2}, "
        f"{len(agent.memory)} transitions in memory"
    )


def _run(agent: DQNAgent, hooks: _RunHooks) -> tuple[float, bool]:
    """Step 4: the tutorial's loop; Ctrl-C ends it with everything saved so far.  Its seconds, and if interrupted."""
    hooks.start = time.perf_counter()
    interrupted = False
    try:
        agent.run()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        agent.env.close()  # a window closes before the closing lines
    return time.perf_counter() - hooks.start, interrupted


def _close(settings, files, agent, hooks: _RunHooks, seconds: float, interrupted: bool, out) -> TrainingResult:
    """Steps 5 and 6: the plot and the closing lines; what the run did."""
    evaluator, checkpointer = hooks.evaluator, hooks.checkpointer
    records, best = [], None
    if evaluator is not None:
        evaluator.close()
        records, best = evaluator.records, evaluator.best
    plot = hooks.log.write_plot(agent.saved_episodes, records, best)
    logged = f"episode log {hooks.log.csv_path}, score plot {plot}" if plot else "no episode finished, no log written"
    if checkpointer is not None and checkpointer.written:
        logged += f"; checkpoint {checkpointer.path} ({checkpointer.written} written in {checkpointer.seconds:.2f} s)"
    saved = settings.model if agent.saved_episodes else None
    # One closing line, as before the log existed: scripts read it.
    out(f"{training_summary(agent.scores, seconds, saved, interrupted)}; {logged}")
    if evaluator is not None:
        out(evaluator.summary(settings.model, agent.saved_episodes))
    best_path = evaluator.best_path if evaluator is not None and best is not None else None
    out(watch_line(settings.model, bool(saved), best_path, evaluation_on=evaluator is not None))
    return TrainingResult(
        list(agent.scores),
        list(agent.saved_episodes),
        interrupted,
        seconds,
        hooks.episode_seconds,
        list(records),
        best,
        evaluator.first_reached if evaluator is not None else None,
        evaluator.stopped_at if evaluator is not None else None,
        files,
        plot,
        checkpointer.written if checkpointer is not None else 0,
    )


def _evaluator(settings: TrainingSettings, files: RunFiles) -> Evaluator | None:
    """The Evaluator the settings ask for, or None when evaluation is off."""
    if settings.eval_episodes == 0:
        if settings.stop_when_solved is not None:
            raise UserError("--stop-when-solved needs evaluation; drop --eval-episodes 0")
        return None
    if files.best_model == files.model:
        raise UserError(f"--best-model must differ from --model ({settings.model}): each run writes both")
    return Evaluator(
        files.best_model,
        episodes=settings.eval_episodes,
        confirm_episodes=settings.confirm_episodes,
        proof_episodes=settings.proof_episodes,
        every=settings.eval_every,
        stop_at=settings.stop_when_solved,
        threshold=settings.threshold,
        log_path=files.evaluations_log,
        cut_hopeless_screens=settings.cut_hopeless_screens,
        make_env=functools.partial(make_env, observation=settings.hyperparameters.observation),
    )


def _check_outputs(settings: TrainingSettings, files: RunFiles, evaluator: Evaluator | None) -> None:
    """Every other file and folder the run will write, checked before it starts (UserError if one cannot be)."""
    for path in (files.training_log, files.training_plot):
        check_file(path, "training log")
    if evaluator is not None:
        check_model_path(files.best_model, "--best-model")
        check_file(files.evaluations_log, "evaluation log")
    if settings.tensorboard:
        check_folder(settings.tensorboard, "--tensorboard")
    if settings.keep_checkpoint:
        check_file(files.checkpoint, "checkpoint")


def _checkpoint_to_resume(settings: TrainingSettings, files: RunFiles, hyperparameters: Hyperparameters) -> Path | None:
    """The checkpoint to resume from, checked against this run's recipe before TensorFlow loads; or None."""
    if not settings.resume:
        return None
    path = files.checkpoint if settings.resume is True else Path(settings.resume)
    meta, _ = checkpoint.read(path)
    checkpoint.check_recipe(meta, hyperparameters, settings.seed, path)
    return path
