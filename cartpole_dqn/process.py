"""Settings of the whole Python process, applied once where a program starts.

TensorFlow is loaded quietly (:func:`import_tensorflow_quietly`) by the
commands that need it, and by each ``bench`` worker process; this module
itself imports neither TensorFlow nor Keras, so ``--help`` stays fast.

Three things the agent depends on are global to the process, not to one agent:
TensorFlow's thread pool, fixed when TensorFlow first runs, NumPy's BLAS
threads (:func:`cartpole_dqn.model.use_one_blas_thread`), and the random
streams (Python's ``random``, NumPy's and TensorFlow's) that pick the initial
weights, the Dropout masks, the minibatches and the exploratory actions.  The
command line calls :func:`prepare_process` at the start of each command,
``bench`` in each of its worker processes; a script does the same before it
makes a ``DQNAgent``::

    prepare_process(seed=1)
    agent = DQNAgent(seed=1)  # the agent's seed seeds its environment

:func:`new_agent` does both, after loading TensorFlow quietly: the commands'
(and ``cartpole_dqn.training.train``'s) way to make an agent.  A ``DQNAgent`` made
before TensorFlow has run sets the threads itself, so a script that only
wants the speed may leave this out; the seeds it cannot set.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


def prepare_process(seed: int | None = None) -> None:
    """One thread per TensorFlow operation and for NumPy's matrix products; with ``seed``, seed Python's, NumPy's
    and TensorFlow's streams."""
    import keras

    from cartpole_dqn.compiled import use_one_thread_per_operation
    from cartpole_dqn.model import use_one_blas_thread

    use_one_thread_per_operation()
    use_one_blas_thread()
    if seed is not None:
        keras.utils.set_random_seed(seed)


def new_agent(hyperparameters, seed: int | None = None, **options):
    """A ``DQNAgent`` in a process prepared for it: TensorFlow loaded quietly, one thread per operation, seeded.

    ``options`` go to ``DQNAgent`` (``render``, ``env``, ``model_path``).
    """
    import_tensorflow_quietly()
    from cartpole_dqn.agent import DQNAgent

    prepare_process(seed)
    return DQNAgent(hyperparameters, seed=seed, **options)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow without its start-up chatter about CUDA and CPU features.

    Part of it is written by C++ before logging is configured, so no setting
    silences it: stderr is parked during the import and shown only if the import fails.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with stderr_parked(show_if_raised=True):
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def stderr_parked(*, show_if_raised: bool):
    """Park what this process writes to its stderr meanwhile (file descriptor 2, where C++ libraries write too);
    afterwards show it if the block raised (``show_if_raised``) or if it did not (otherwise), drop it else."""
    sys.stderr.flush()
    saved_fd = os.dup(2)
    raised = False
    with tempfile.TemporaryFile() as parked:
        os.dup2(parked.fileno(), 2)
        try:
            yield
        except BaseException:
            raised = True
            raise
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            if raised == show_if_raised:
                parked.seek(0)
                sys.stderr.write(parked.read().decode(errors="replace"))
