"""The pretrained agent shipped with the package: ``cartpole-dqn test --pretrained``.

``cartpole-dqn.h5`` here is the Q-network only (no optimizer state), made by
this package's own ``train``.  How it was made, and how to make it again, is
recorded in one place, ``README.md`` beside it.
"""

from __future__ import annotations

from importlib.resources import files

PRETRAINED_MODEL = files(__name__) / "cartpole-dqn.h5"
