"""Summaries printed at the end of ``train`` (one line) and ``test`` (a line and a table)."""

from __future__ import annotations

from cartpole_dqn.environment import MAX_SCORE

# The preset that stays learned, and what `bench learning` measured for it (docs/solved-study/).
STAYS_LEARNED_COMMAND = "cartpole-dqn train --preset ddqn-soft-bootstrap --episodes 300 --stop-when-solved"
STAYS_LEARNED_FIGURES = (
    "on 10 new seeds, all 10 solved within 300 episodes (median 217, 135 s on 2 cores); their best models "
    "played 500 in 20 of 20 test episodes on all 10"
)


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


def unsolved_line(best_evaluation) -> str:
    """The closing line of a run whose best model did not play 500 in every evaluation episode.

    ``best_evaluation`` is the best model's ``EvaluationRecord``-like
    record (total_at500, episodes, confirm_episodes), or None.
    """
    if best_evaluation is None:
        verdict = "no evaluation finished"
    else:
        played = best_evaluation.episodes + best_evaluation.confirm_episodes
        verdict = (
            f"the best model played {MAX_SCORE} in {best_evaluation.total_at500} of its {played} evaluation "
            f"episodes; solved means all {played}"
        )
    return (
        f"not solved: {verdict}. For a model that balances the pole every time, train the preset that stays "
        f"learned: {STAYS_LEARNED_COMMAND} ({STAYS_LEARNED_FIGURES})"
    )
