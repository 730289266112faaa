"""Pictures of a run: training scores, test scores, the Q-learning loss, the benchmark's curves.

Each is written in the format its file name's suffix names (``.png``,
``.svg``, ``.pdf``, ...), as matplotlib's ``savefig`` picks it; the command line
refuses a name it cannot draw before any work (``output_files.check_plot_path``).

Figures are drawn with matplotlib's object interface on the Agg canvas, never
``pyplot``: no window, no display and no global backend to choose, so this
works on a headless server.  matplotlib is slow to import, so the
command line imports this module only when a picture is asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cartpole_dqn.environment import MAX_SCORE
from cartpole_dqn.output_files import written_atomically

MOVING_AVERAGE_WINDOW = 20  # episodes averaged in the training plot's smooth line

# The loss the network minimises for a transition (s, a, r, s'), as the
# tutorial states it: the squared gap between the target and the prediction.
LOSS_FORMULA = r"$\mathrm{loss} = \left(r + \gamma\,\max_{a'}\,\hat{Q}(s', a') - Q(s, a)\right)^2$"


def _new_figure(width=8.0, height=4.5) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path) -> Path:
    with written_atomically(path) as partial:  # the temporary name keeps the suffix: the format
        figure.savefig(partial)
    return Path(path)


def moving_average(scores, window: int = MOVING_AVERAGE_WINDOW) -> np.ndarray:
    """Mean of each score and the up to ``window - 1`` scores before it."""
    scores = np.asarray(scores, dtype=float)
    totals = np.cumsum(np.concatenate([[0.0], scores]))
    ends = np.arange(1, len(scores) + 1)
    starts = np.maximum(ends - window, 0)
    return (totals[ends] - totals[starts]) / (ends - starts)


def _draw_score_axes(axes, title, xlabel) -> None:
    """Score axis from 0 to just above the maximum, with the maximum dashed; whole-number x ticks."""
    axes.axhline(MAX_SCORE, color="tab:green", linestyle="--", linewidth=1, label=f"maximum score ({MAX_SCORE})")
    axes.set_ylim(0, MAX_SCORE * 1.08)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set(title=title, xlabel=xlabel, ylabel="score (steps balanced)")
    axes.grid(alpha=0.3)


def plot_training_scores(
    scores, path, saved_episodes=(), title="Training: score per episode", evaluations=(), best=None
) -> Path:
    """Score of each episode, its moving average and the 500 line, to ``path``.

    ``saved_episodes`` (episodes after which the tutorial's rule saved the
    model) are marked.  ``evaluations`` (``EvaluationRecord``-like: episode,
    mean, cut_short) add the greedy evaluation means, those of screens cut short
    as separate marks (their mean is a lower bound); ``best`` (one of them)
    is marked as the network kept as the best model.
    """
    figure = _new_figure()
    axes = figure.add_subplot()
    episodes = np.arange(len(scores))
    axes.plot(episodes, scores, color="tab:blue", alpha=0.35, linewidth=1, label="training score")
    if len(scores):
        axes.plot(
            episodes,
            moving_average(scores),
            color="tab:orange",
            linewidth=2,
            label=f"mean of last {MOVING_AVERAGE_WINDOW}",
        )
    if len(evaluations):
        # Only a lower bound is known of a cut screen's mean: drawn apart, and the line breaks there.
        full_means = [np.nan if r.cut_short else r.mean for r in evaluations]
        axes.plot(
            [r.episode for r in evaluations],
            full_means,
            ".-",
            color="tab:purple",
            linewidth=1.5,
            markersize=3,
            label=f"greedy evaluation (mean of {evaluations[0].episodes})",
        )
    cut = [r for r in evaluations if r.cut_short]
    if cut:
        axes.plot(
            [r.episode for r in cut],
            [r.mean for r in cut],
            "x",
            color="tab:gray",
            markersize=4,
            label="evaluation cut short (at least)",
        )
    if len(saved_episodes):
        axes.plot(
            saved_episodes, [scores[e] for e in saved_episodes], "v", color="tab:red", label="saved at a training 500"
        )
    if best is not None:
        axes.plot(
            [best.episode],
            [best.score],
            "*",
            color="black",
            markersize=14,
            label=f"kept as best: episode {best.episode}, "
            f"{best.total_at500}/{best.episodes + best.confirm_episodes} at {MAX_SCORE}",
        )
    _draw_score_axes(axes, title, "episode")
    figure.legend(loc="outside lower center", ncols=3)
    return _save(figure, path)


def plot_test_scores(scores, path, title="Test: greedy episodes") -> Path:
    """One bar per test episode, with the 500 line, to ``path``."""
    figure = _new_figure()
    axes = figure.add_subplot()
    reached = [score >= MAX_SCORE for score in scores]
    colors = ["tab:green" if done else "tab:red" for done in reached]
    axes.bar(np.arange(len(scores)), scores, color=colors)
    _draw_score_axes(axes, f"{title}: {sum(reached)} of {len(scores)} reached {MAX_SCORE}", "test episode")
    return _save(figure, path)


def render_loss_formula(path) -> Path:
    """The Q-learning loss typeset with matplotlib mathtext, to ``path``."""
    figure = _new_figure(width=6.4, height=0.9)
    figure.text(0.5, 0.5, LOSS_FORMULA, fontsize=20, ha="center", va="center")
    return _save(figure, path)


def fraction_solved(solved, max_episodes) -> np.ndarray:
    """For each episode 0 .. max_episodes - 1, the fraction of seeds solved at or before it.

    ``solved`` holds per seed the episode it was solved at, or None.
    """
    done = np.array([e for e in solved if e is not None], dtype=int)
    return (done[None, :] <= np.arange(max_episodes)[:, None]).sum(axis=1) / len(solved)


def plot_fraction_solved(curves, path, title="Seeds solved by train --stop-when-solved") -> Path:
    """For each curve, the fraction of seeds solved by each episode, to ``path``.

    ``curves`` maps a label (a preset) to ``(solved, max_episodes)``: per seed
    the episode whose confirmed model stopped training, or None if none did
    within ``max_episodes``.
    """
    figure = _new_figure()
    axes = figure.add_subplot()
    longest = max(max_episodes for _, max_episodes in curves.values())
    for label, (solved, max_episodes) in curves.items():
        axes.step(
            np.arange(max_episodes),
            fraction_solved(solved, max_episodes),
            where="post",
            linewidth=2,
            label=f"{label}: {sum(e is not None for e in solved)}/{len(solved)} seeds solved",
        )
    axes.set_xlim(0, longest)
    axes.set_ylim(0, 1.02)
    axes.set(title=title, xlabel="training episode", ylabel="fraction of seeds solved")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    return _save(figure, path)


def plot_evaluation_medians(
    curves, path, threshold, title="Greedy evaluation over training, seeds' median and quartiles"
) -> Path:
    """For each curve, the median evaluation mean across seeds against episodes, with the interquartile band.

    ``curves`` maps a label (a preset) to one list per seed of its
    evaluation means, one per episode; an episode counts the seeds that got
    there.  ``threshold`` (the "solved" mean) is drawn dotted.
    """
    figure = _new_figure()
    axes = figure.add_subplot()
    for label, seeds in curves.items():
        longest = max(len(means) for means in seeds)
        padded = np.full((len(seeds), longest), np.nan)
        for row, means in zip(padded, seeds, strict=True):
            row[: len(means)] = means
        low, median, high = np.nanpercentile(padded, [25, 50, 75], axis=0)
        episodes = np.arange(longest)
        seeds_counted = f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}"
        (line,) = axes.plot(episodes, median, linewidth=2, label=f"{label}: median of {seeds_counted}")
        axes.fill_between(episodes, low, high, color=line.get_color(), alpha=0.2)
    _draw_score_axes(axes, title, "training episode")
    axes.axhline(threshold, color="black", linestyle=":", linewidth=1, label=f"solved ({threshold:g})")
    axes.set_ylabel("evaluation mean (band: 25th-75th percentile)")
    figure.legend(loc="outside lower center", ncols=2)
    return _save(figure, path)
