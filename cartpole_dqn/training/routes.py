"""The routes to a solved model, and what the studies measured for each: the one place for those figures.

A run that ends not solved quotes them (``summary.unsolved_line``); the README and docs quote the same figures,
and ``tests/test_routes.py`` fails when a page, this module or the study files it was read from
(under ``docs/solved-study/`` and ``docs/steady-search/preset/``) disagree.  Seconds are training's wall time,
evaluation included, program start (about 3 s) not; measured on the 2-core machine of BENCHMARKS.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """``train --preset P --episodes N --stop-when-solved`` on ``runs`` seeds never used before."""

    preset: str
    episodes: int  # the command's --episodes
    first_seed: int  # the study's seeds: first_seed .. first_seed + runs - 1
    runs: int
    solved: int  # runs that stopped on a solved model
    median_solved_episode: float  # over the solved runs
    # Over all runs, the unsolved ones at their last episode; None where the study ran code slower than today's
    # (evaluation still calling TensorFlow), so that only its episodes are quoted.
    median_seconds: float | None
    study: str  # the CSV, from the repository's root

    @property
    def command(self) -> str:
        episodes = "" if self.episodes == 1000 else f" --episodes {self.episodes}"
        preset = "" if self.preset == "tutorial" else f" --preset {self.preset}"
        return f"cartpole-dqn train{preset}{episodes} --stop-when-solved"

    @property
    def figures(self) -> str:
        """What the study measured, in the words the pages use too."""
        solved = f"solved {self.solved} of {self.runs} new seeds"
        if self.median_seconds is None:
            return f"{solved} by a median episode of {self.median_solved_episode:.0f}"
        return f"{solved} in a median {self.median_seconds:.0f} s of training on 2 cores"


# The quickest to a solved model: every run stopped, every best model 20/20 (seeds 1200-1209, one at a time, just
# before STAYS_LEARNED's seeds were run again with the same episodes).  On seeds 600-609 the same day it stopped
# on 9 of 10 (the same study's file beside this one).
SOLVES_SOONEST = Route(
    preset="ddqn-quick",
    episodes=300,
    first_seed=1200,
    runs=10,
    solved=10,
    median_solved_episode=203.5,
    median_seconds=13.1,
    study="docs/solved-study/ddqn-quick-2026-12-04/seeds-1200-1209.csv",
)

# The one that stays learned if training goes on: seeds 1200-1209 with the stop, one at a time.
STAYS_LEARNED = Route(
    preset="ddqn-steady",
    episodes=300,
    first_seed=1200,
    runs=10,
    solved=10,
    median_solved_episode=212,
    median_seconds=30.8,
    study="docs/solved-study/ddqn-steady.csv",
)
# The same seeds trained 300 episodes without a stop: after its first evaluation mean of 475, the median seed's
# evaluations reached 475 again this share of the time (the study's column stays_solved).
STAYS_LEARNED_SHARE = 0.83
STAYS_LEARNED_SHARE_STUDY = "docs/steady-search/preset/ddqn-steady.csv"


def stays_learned_figures() -> str:
    """The stays-learned claim, as the not-solved line and the pages put it."""
    return f"the median seed's evaluations stayed at 475 or above {STAYS_LEARNED_SHARE:.0%} of the time once there"
