"""Worker processes: how one starts (:func:`start_worker`), and one function run over many tasks in them.

The learning benchmark trains one seed per task, here or as Ray tasks; the SB3 side by side runs each side
in a worker of its own.  Workers are started with
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


def start_worker(inter_op_threads: int | None = None) -> None:
    """Ready a fresh worker process: import TensorFlow without its start-up chatter.

    With ``inter_op_threads``, the operations TensorFlow runs side by side get
    that many threads, this worker's share of the cores, so workers do not fight over them.
    """
    from cartpole_dqn.process import import_tensorflow_quietly

    import_tensorflow_quietly()
    if inter_op_threads is not None:
        import tensorflow as tf

        tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)


def run_in_worker(function, task):
    """``function(task)`` in a worker :func:`start_worker` readied first: what a Ray task runs."""
    start_worker()
    return function(task)


def map_in_processes(function, tasks, workers: int):
    """Yield ``function(task)`` for each task, in the order the ``workers`` processes finish them.

    ``function`` must be a module-level function and the tasks picklable.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=start_worker,
        initargs=(max(1, available_cores() // workers),),
    ) as pool:
        for future in as_completed([pool.submit(function, task) for task in tasks]):
            yield future.result()
