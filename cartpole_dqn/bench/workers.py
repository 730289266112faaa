"""Run one function over many tasks in worker processes, each with its share of the cores.

The learning benchmark trains one seed per task.  Workers are started with
``spawn``, not ``fork``: a fork of a process that already runs TensorFlow can
hang.  This module does not import TensorFlow itself, so a worker imports it
once, quietly, before its first task, and the parent's ``--help`` stays fast.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed


def available_cores() -> int:
    """The cores this process may run on: the default number of workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _worker_setup(inter_op_threads: int) -> None:
    """Import TensorFlow without its start-up chatter and give it this worker's share of the cores.

    DQNAgent runs each operation on one thread; the operations TensorFlow
    runs side by side get ``inter_op_threads``, so workers do not fight over cores.
    """
    from cartpole_dqn.process import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)


def map_in_processes(function, tasks, workers: int):
    """Yield ``function(task)`` for each task, in the order the ``workers`` processes finish them.

    ``function`` must be a module-level function and the tasks picklable.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_worker_setup,
        initargs=(max(1, available_cores() // workers),),
    ) as pool:
        for future in as_completed([pool.submit(function, task) for task in tasks]):
            yield future.result()
