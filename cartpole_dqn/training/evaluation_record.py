"""One evaluation's record, and how records rank: the fraction of episodes at 500 first, then the mean.

:class:`~cartpole_dqn.training.evaluation.Evaluator` writes one per evaluation; the evaluation log, the
checkpoint (by field name), the plots and the closing lines read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation: after which training episode, its screen, and its confirmation if it was a candidate."""

    episode: int  # the training episode after which the network was evaluated
    mean: float  # mean score of the screen's greedy episodes
    at500: int  # screen episodes that reached 500
    episodes: int  # screen episodes played
    confirm_mean: float | None  # mean of the confirmation episodes; None: not a candidate
    confirm_at500: int | None
    confirm_episodes: int  # 0 when not a candidate; the proof's episodes included when it played them
    best: float  # the best model's score after this evaluation (mean over its screen and confirmation)
    saved: bool  # this network became the best model
    # Screen episodes that ended: fewer than ``episodes`` when the screen was cut short (it could no longer be a
    # candidate), and then ``mean`` counts the steps the unfinished ones had lasted, a lower bound.  None: a record
    # from before screens were cut, played to the end.
    finished: int | None = None

    @property
    def cut_short(self) -> bool:
        return self.finished is not None and self.finished < self.episodes

    @property
    def score(self) -> float | None:
        """Mean over the screen and the confirmation episodes; None without a confirmation."""
        if self.confirm_mean is None:
            return None
        total = self.mean * self.episodes + self.confirm_mean * self.confirm_episodes
        return total / (self.episodes + self.confirm_episodes)

    @property
    def total_at500(self) -> int | None:
        """Screen and confirmation episodes that reached 500; None without a confirmation."""
        return None if self.confirm_at500 is None else self.at500 + self.confirm_at500

    @property
    def all_at500(self) -> bool:
        """Every screen and confirmation episode reached 500: what ``train --stop-when-solved`` waits for."""
        return self.total_at500 is not None and self.total_at500 == self.episodes + self.confirm_episodes

    @property
    def rank(self) -> tuple[Fraction, float]:
        """How the best model is chosen: the largest fraction of episodes at 500, then the highest mean.

        A fraction, not a count: a record with a proof has more episodes than one without.  Only a confirmed
        record has a rank."""
        total_at500, score = self.total_at500, self.score
        if total_at500 is None or score is None:
            raise ValueError("only a confirmed evaluation has a rank")
        return Fraction(total_at500, self.episodes + self.confirm_episodes), score


def solves(record: EvaluationRecord, threshold: float) -> bool:
    """Both the screen and the confirmation of this evaluation reached ``threshold``."""
    return record.confirm_mean is not None and min(record.mean, record.confirm_mean) >= threshold
