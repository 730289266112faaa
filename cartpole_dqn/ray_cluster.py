"""``bench --learning --ray [ADDRESS]``: the learning benchmark's seeds as Ray tasks.

Ray is the usual engine for spreading RL seeds over machines.  Each seed is
the same :func:`cartpole_dqn.benchmark.learn_one_seed` call the worker
processes make, run as a Ray task, so the CSV is the same.  Ray is an optional
extra (``pip install "cartpole-dqn[ray]"``); every machine of a cluster needs
this package installed.  This module imports neither Ray nor TensorFlow until
a study runs, so ``--help`` stays fast.
"""

from __future__ import annotations

from cartpole_dqn.errors import UserError

INSTALL_RAY = 'pip install "cartpole-dqn[ray]"'
LOCAL_RUNTIME = ""  # --ray without an address: a local Ray runtime for this run


def check_ray_installed() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UserError(f"--ray needs Ray, which is not installed here: {INSTALL_RAY}") from None


def learn_one_seed_quietly(task):
    """``learn_one_seed`` in a Ray worker, which imports TensorFlow without its start-up chatter first."""
    from cartpole_dqn.process import import_tensorflow_quietly

    import_tensorflow_quietly()
    from cartpole_dqn.benchmark import learn_one_seed

    return learn_one_seed(task)


def ray_mapper(address: str | None):
    """A ``mapper(function, tasks)`` for ``benchmark.run_learning``: one Ray task per seed, yielded as each finishes.

    ``address`` is a running cluster's (``ray.init(address=...)``); None starts
    a local runtime for this run.  ``function`` must be ``learn_one_seed``:
    the Ray task is :func:`learn_one_seed_quietly`, which calls it.
    """
    import ray

    def mapper(function, tasks):
        from cartpole_dqn.benchmark import learn_one_seed

        assert function is learn_one_seed, "a Ray task imports TensorFlow quietly, then runs learn_one_seed"
        # A local runtime without its dashboard; the workers' own output stays in Ray's logs, as each seed's
        # lines go to its log file.
        local = {"include_dashboard": False} if address is None else {}
        ray.init(address=address, log_to_driver=False, logging_level="ERROR", **local)
        try:
            remote = ray.remote(num_cpus=1)(learn_one_seed_quietly)
            pending = [remote.remote(task) for task in tasks]
            while pending:
                finished, pending = ray.wait(pending, num_returns=1)
                yield ray.get(finished[0])
        finally:
            ray.shutdown()

    return mapper
