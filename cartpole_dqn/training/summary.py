"""Summaries printed at the end of ``train`` (one line) and ``test`` (a line and a table)."""

from __future__ import annotations

from cartpole_dqn.environment import MAX_SCORE
from cartpole_dqn.training.routes import SOLVES_SOONEST, STAYS_LEARNED, stays_learned_figures


def training_summary(scores, seconds: float, saved_path, interrupted: bool = False) -> str:
    steps = sum(scores)
    reached = sum(score >= MAX_SCORE for score in scores)
    head = "training interrupted" if interrupted else "training finished"
    rate = steps / seconds if seconds > 0 else 0.0
    best = max(scores, default=0)
    saved = f"model saved at {saved_path}" if saved_path else f"no episode reached {MAX_SCORE}, no model saved"
    return (
        f"{head}: {len(scores)} episodes, {steps} steps in {seconds:.1f} s ({rate:.0f} steps/s), "
        f"best score {best}, reached {MAX_SCORE} in {reached}; {saved}"
    )


def summarize_test(scores) -> str:
    """A one-line verdict, then a table: episodes, reached 500, mean, min and max score."""
    reached = sum(score >= MAX_SCORE for score in scores)
    mean = sum(scores) / len(scores) if scores else 0.0
    header = ("episodes", f"reached {MAX_SCORE}", "mean", "min", "max")
    row = (len(scores), reached, f"{mean:.1f}", min(scores, default="-"), max(scores, default="-"))
    widths = [max(len(h), len(str(v))) for h, v in zip(header, row, strict=True)]
    return "\n".join(
        [
            f"test: reached {MAX_SCORE} in {reached}/{len(scores)} episodes, mean score {mean:.1f}",
            "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)),
            "  ".join(str(v).rjust(w) for v, w in zip(row, widths, strict=True)),
        ]
    )


def models_summary(model_path, last_saved_episode, last_evaluation, best_path, best_evaluation, stopped_at=None) -> str:
    """Name the tutorial's last-500 model and the best evaluated model, with what each scored.

    The evaluations are ``EvaluationRecord``-like (episode, mean, at500,
    episodes, confirm_mean, confirm_at500, confirm_episodes, cut_short,
    finished, all_at500) or None;
    ``stopped_at`` is the evaluation that stopped training.
    """

    def scored(record):
        if record.cut_short:
            return (
                f"eval cut short when {record.finished} of {record.episodes} episodes had fallen before "
                f"{MAX_SCORE} (it could not beat the best)"
            )
        screen = f"eval mean {record.mean:.1f}, {record.at500}/{record.episodes} at {MAX_SCORE}"
        if record.confirm_mean is None:
            return screen
        return (
            f"{screen}; confirmation mean {record.confirm_mean:.1f}, "
            f"{record.confirm_at500}/{record.confirm_episodes} at {MAX_SCORE}"
        )

    if last_saved_episode is None:
        last = f"{model_path} not written (no episode reached {MAX_SCORE})"
    elif last_evaluation is None:
        last = f"{model_path} = last {MAX_SCORE} (episode {last_saved_episode})"
    else:
        last = f"{model_path} = last {MAX_SCORE} (episode {last_saved_episode}): {scored(last_evaluation)}"
    if best_evaluation is None:
        best = f"{best_path} not written (no evaluation ran)"
    else:
        best = f"{best_path} = best evaluation (episode {best_evaluation.episode}): {scored(best_evaluation)}"
    if stopped_at is None:
        stop = ""
    elif stopped_at.all_at500:
        stop = f"; stopped when solved at episode {stopped_at.episode}"
    else:
        stop = f"; stopped at episode {stopped_at.episode}: its means reached the --stop-when-solved mean"
    return f"models: {last}; {best}{stop}"


def unsolved_line(best_evaluation, best_path, play_command: str, solved_means: dict[str, int]) -> str:
    """The two closing lines of a run whose best model did not play 500 in every evaluation episode.

    The first says what the run hands over: the best model (``best_path``, ``best_evaluation`` its
    ``EvaluationRecord``-like record with episode, total_at500, episodes, confirm_episodes, or None), its fraction
    at 500 and ``play_command``, against what solved means: ``solved_means`` maps each kind of evaluation episode
    (screen, confirmation, proof) to how many a solved model plays.  The second names the route that solves
    soonest and the one that stays learned, with what the studies measured (``cartpole_dqn.training.routes``).
    """
    solved_total = sum(solved_means.values())
    kinds = [f"{count} {kind}" for kind, count in solved_means.items() if count]
    solved = (
        f"solved means {MAX_SCORE} in every one of {solved_total}: {', '.join(kinds[:-1])} and {kinds[-1]} episodes"
    )
    if best_evaluation is None:
        handed_over = f"no evaluation finished, so there is no best model ({solved})"
    else:
        played = best_evaluation.episodes + best_evaluation.confirm_episodes
        at500 = best_evaluation.total_at500
        handed_over = (
            f"the best model, {best_path} (episode {best_evaluation.episode}), played {MAX_SCORE} in {at500} of its "
            f"{played} evaluation episodes ({at500 / played:.0%}); {solved}. Play it: {play_command}"
        )
    return (
        f"not solved: {handed_over}\n"
        f"solved soonest: {SOLVES_SOONEST.command} ({SOLVES_SOONEST.figures}); stays learned if training goes on: "
        f"{STAYS_LEARNED.command} ({STAYS_LEARNED.figures}; {stays_learned_figures()})"
    )
