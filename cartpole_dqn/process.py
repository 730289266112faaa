"""Settings of the whole Python process, applied once where a program starts.

Two things the agent depends on are global to the process, not to one agent:
TensorFlow's thread pool, fixed when TensorFlow first runs, and the random
streams (Python's ``random``, NumPy's and TensorFlow's) that pick the initial
weights, the Dropout masks, the minibatches and the exploratory actions.  The
command line calls :func:`prepare_process` at the start of each command,
``bench`` in each of its worker processes; a script does the same before it
makes a ``DQNAgent``::

    prepare_process(seed=1)
    agent = DQNAgent(seed=1)  # the agent's seed seeds its environment
"""

from __future__ import annotations

import keras

from cartpole_dqn.compiled import use_one_thread_per_operation


def prepare_process(seed: int | None = None) -> None:
    """One thread per TensorFlow operation; with ``seed``, seed Python's, NumPy's and TensorFlow's streams."""
    use_one_thread_per_operation()
    if seed is not None:
        keras.utils.set_random_seed(seed)
