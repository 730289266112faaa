"""``bench learning --ray [ADDRESS]``: the learning benchmark's seeds as Ray tasks.

Ray is the usual engine for spreading RL seeds over machines.  Each seed is
the same :func:`cartpole_dqn.bench.learning.learn_one_seed` call the worker
processes make, run as a Ray task, so the CSV is the same.  Ray is an optional
extra (``pip install -e ".[ray]"`` in a checkout, ``INSTALL_RAY``); every machine of a cluster needs
this package installed.  This module imports neither Ray nor TensorFlow until
a study runs, so ``--help`` stays fast.

A cluster started with token authentication (``ray start`` does so when a
token exists, and Ray's own local runtime saves one in ~/.ray/auth_token)
takes a driver only with its token.  Ray sends a token to an explicit address
only when asked (``RAY_AUTH_MODE=token``), so that a token never goes to a
cluster it was not meant for; only ``auto``, the cluster ``ray start``
recorded on this machine, gets the local token unasked.  This module keeps
Ray's rule and, when a cluster refuses, says what to set.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from cartpole_dqn.bench.workers import run_in_worker
from cartpole_dqn.errors import UserError, install_hint
from cartpole_dqn.process import stderr_parked

INSTALL_RAY = install_hint("ray")
LOCAL_RUNTIME = ""  # --ray without an address: a local Ray runtime for this run
ANSWER_SECONDS = 10  # a head node that has not accepted a connection by then is not there
TOKEN_PLACES = "RAY_AUTH_TOKEN, a file named by RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token"


def check_ray(address: str | None) -> None:
    """Before any work: Ray is installed and, for a cluster's ``host:port``, something answers there.

    ``ray.init`` itself would retry an address where nothing listens for many minutes.
    """
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UserError(f"--ray needs Ray, which is not installed here: {INSTALL_RAY}") from None
    host, port = _host_and_port(address) if address is not None else (None, None)
    if host is None:
        return  # a local runtime, or "auto": Ray finds the cluster
    try:
        socket.create_connection((host, port), timeout=ANSWER_SECONDS).close()
    except OSError as exc:
        raise UserError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}): start one there with "
            f"`ray start --head --port {port}`, or give the address `ray status` shows on its head "
            "node"
        ) from None


def _host_and_port(address: str) -> tuple[str | None, int | None]:
    """``host:port`` or ``ray://host:port`` -> (host, port); (None, None) for anything else ("auto")."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        port = parts.port
    except ValueError:
        return None, None
    return (parts.hostname, port) if parts.hostname and port else (None, None)


def ray_mapper(address: str | None):
    """Join the cluster at ``address`` (None: start a local runtime); return a ``mapper(function, tasks)`` for
    ``learning.run_learning``: one Ray task per task, yielded as each finishes.

    Joining comes first, so a refusal is a UserError before the study prints
    anything.  Each Ray task readies its worker as a local worker process is readied
    (:func:`~cartpole_dqn.bench.workers.run_in_worker`), then runs ``function``.
    """
    import ray

    _join(ray, address)

    def mapper(function, tasks):
        try:
            remote = ray.remote(num_cpus=1)(run_in_worker)
            pending = [remote.remote(function, task) for task in tasks]
            while pending:
                finished, pending = ray.wait(pending, num_returns=1)
                yield ray.get(finished[0])
        finally:
            ray.shutdown()

    return mapper


def _join(ray, address: str | None) -> None:
    # A local runtime without its dashboard; the workers' own output stays in Ray's logs, as each seed's
    # lines go to its log file.
    local = {"include_dashboard": False} if address is None else {}
    # Ray's C++ client logs to file descriptor 2: a cluster that refuses a driver gets a warning a second
    # for about 20 s, and the refusal's one line says it all.
    with stderr_parked(show_if_raised=False):
        try:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR", **local)
        except ConnectionError as exc:
            raise _refusal(address, exc) from None


def _refusal(address: str | None, exc: ConnectionError) -> UserError:
    """The one line for a cluster that answered but did not take this driver."""
    # Ray wraps the refusal of a token in a RuntimeError whose message holds the AuthenticationError's traceback.
    if "AuthenticationError" not in str(exc.__cause__):
        return UserError(f"could not join the Ray cluster at {address}: {exc}")
    if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        return UserError(
            f"the Ray cluster at {address} takes only drivers with its token: run with "
            f"RAY_AUTH_MODE=token and the cluster's token in {TOKEN_PLACES} "
            "(`ray get-auth-token` on its head node prints it)"
        )
    return UserError(
        f"the Ray cluster at {address} refused the token in {TOKEN_PLACES}: give the one "
        "`ray get-auth-token` prints on its head node"
    )
