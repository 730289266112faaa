"""One-line summaries printed at the end of ``train`` and ``test``."""

from __future__ import annotations

SOLVED_SCORE = 500  # CartPole-v1 ends an episode (truncates) after 500 steps


def training_summary(scores, seconds: float, saved_path, interrupted: bool = False) -> str:
    steps = sum(scores)
    reached = sum(score >= SOLVED_SCORE for score in scores)
    head = "training interrupted" if interrupted else "training finished"
    rate = steps / seconds if seconds > 0 else 0.0
    best = max(scores, default=0)
    saved = f"model saved at {saved_path}" if saved_path else f"no episode reached {SOLVED_SCORE}, no model saved"
    return (f"{head}: {len(scores)} episodes, {steps} steps in {seconds:.1f} s ({rate:.0f} steps/s), "
            f"best score {best}, reached {SOLVED_SCORE} in {reached}; {saved}")


def test_summary(scores) -> str:
    reached = sum(score >= SOLVED_SCORE for score in scores)
    mean = sum(scores) / len(scores) if scores else 0.0
    return f"test: reached {SOLVED_SCORE} in {reached}/{len(scores)} episodes, mean score {mean:.1f}"
