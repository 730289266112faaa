"""Every hyperparameter of the agent, with the tutorial's values as defaults.

This is the one place defaults live: ``DQNAgent`` and the command line both
read them from :class:`Hyperparameters`, so changing a value here changes it
everywhere.  The names are the tutorial's own (``EPISODES``, ``gamma``,
``epsilon``, ...), so a reader of the tutorial finds them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from cartpole_dqn.errors import UserError


def _param(default, help_text, flag=None):
    return field(default=default, metadata={"help": help_text, "flag": flag})


@dataclass(frozen=True)
class Hyperparameters:
    """The tutorial's "Setting Hyper Parameters" list, plus the replay memory size."""

    EPISODES: int = _param(1000, "number of games the agent plays", flag="--episodes")
    memory_size: int = _param(2000, "replay memory length: deque(maxlen=memory_size)")
    gamma: float = _param(0.95, "discount rate of future rewards, in [0, 1]")
    epsilon: float = _param(1.0, "initial exploration rate, in [0, 1]")
    epsilon_min: float = _param(0.0001, "exploration never decays below this, in [0, 1]")
    epsilon_decay: float = _param(0.999, "epsilon is multiplied by this after each replay, in [0, 1]")
    learning_rate: float = _param(0.001, "Adam learning rate (the tutorial uses Adam's default, 0.001)")
    batch_size: int = _param(128, "transitions sampled from memory per replay")

    def validated(self) -> "Hyperparameters":
        """Return self, or raise UserError naming the first impossible value."""
        for name in ("EPISODES", "memory_size", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise UserError(f"{flag_of(name)} must be a positive whole number, got {value!r}")
        for name in ("gamma", "epsilon", "epsilon_min", "epsilon_decay"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise UserError(f"{flag_of(name)} must be between 0 and 1, got {value!r}")
        if not self.learning_rate > 0.0:
            raise UserError(f"{flag_of('learning_rate')} must be positive, got {self.learning_rate!r}")
        return self

    def replace(self, **changes) -> "Hyperparameters":
        return dataclasses.replace(self, **changes)


def flag_of(name: str) -> str:
    """The command-line flag that sets hyperparameter ``name``."""
    meta = Hyperparameters.__dataclass_fields__[name].metadata
    return meta["flag"] or "--" + name.replace("_", "-")


DEFAULTS = Hyperparameters()
DEFAULT_MODEL_PATH = "cartpole-dqn.h5"  # the tutorial's file name
