"""``bench learning --ray``: the same seeds as Ray tasks on a local runtime give the same CSV; a study runs
through a real cluster's address (a head node on the loopback, with token authentication); a cluster that
does not answer or refuses is a one-line error.

Skipped where Ray is not installed (CI installs the extra: ``pip install -e ".[test,ray]"``).
"""

import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO

RAY_MISSING = 'Ray is not installed: pip install -e ".[test,ray]"'


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pythonpath_with(module):
    """PYTHONPATH for a child process: this repository, and wherever this process found ``module``."""
    return os.pathsep.join([str(REPO), str(Path(module.__file__).parent.parent)])


@pytest.fixture(scope="module")
def ray_head():
    """A Ray head node on the loopback that takes only drivers with its token: (address, token).

    Started with ``ray start --head --block``, in a session of its own: stopping
    it stops every process it started, and nothing else (``ray stop`` would
    stop every Ray cluster of this machine).
    """
    ray = pytest.importorskip("ray", reason=RAY_MISSING)
    port, token = free_port(), secrets.token_hex(32)
    # Ray's sockets live under --temp-dir, whose path must stay short; it also keeps this cluster out of
    # /tmp/ray, where `ray.init(address="auto")` would find it.
    temp_dir = tempfile.mkdtemp(prefix="ray-")
    env = {**os.environ, "PYTHONPATH": pythonpath_with(ray), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    head = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            "--head",
            "--block",
            "--port",
            str(port),
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            "2",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
            "--temp-dir",
            temp_dir,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while head.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(f"the Ray head node did not start in 180 s (exit code {head.poll()})")
        yield f"127.0.0.1:{port}", token, Path(temp_dir)
    finally:
        head.terminate()
        try:
            head.wait(timeout=60)
        finally:
            try:
                os.killpg(head.pid, signal.SIGKILL)  # whatever of its session outlived it
            except ProcessLookupError:
                pass
            shutil.rmtree(temp_dir, ignore_errors=True)


def test_without_ray_installed_the_flag_is_a_one_line_error_naming_the_extra(cli_error, monkeypatch):
    # Ray hidden from this process even where it is installed: None in sys.modules makes `import ray` fail.
    monkeypatch.setitem(sys.modules, "ray", None)
    assert cli_error("bench", "learning", "--ray") == (
        'cartpole-dqn: error: --ray needs Ray, which is not installed here: pip install -e ".[ray]" in a checkout '
        'of the project, or pip install "cartpole_dqn-0.2.0-py3-none-any.whl[ray]" beside a built wheel'
    )


@pytest.mark.slow
def test_a_study_on_a_local_ray_runtime_writes_the_csv_the_worker_processes_write(cli, tmp_path):
    ray = pytest.importorskip("ray", reason=RAY_MISSING)
    from cartpole_dqn.bench.learning import SeedTask, learn_one_seed, read_learning_csv
    from cartpole_dqn.hyperparameters import DEFAULTS

    # Wherever this process found Ray, the CLI's process (and its Ray workers) find it too.
    result = cli(
        "bench",
        "learning",
        "--ray",
        "--keep-training",
        "--seeds",
        2,
        "--seed",
        5,
        "--max-episodes",
        2,
        "--batch-size",
        8,
        "--csv",
        "study/tutorial.csv",
        env={"PYTHONPATH": pythonpath_with(ray)},
    )
    assert result.returncode == 0, result.stderr
    assert "seeds 5..6 as Ray tasks (a local runtime)" in result.stdout.splitlines()[0]

    on_ray = read_learning_csv(tmp_path / "study" / "tutorial.csv")
    here = [
        learn_one_seed(SeedTask("tutorial", DEFAULTS.replace(EPISODES=2, batch_size=8), seed, keep_training=True))[0]
        for seed in (5, 6)
    ]
    assert [dataclasses.replace(r, seconds=0) for r in on_ray] == [dataclasses.replace(r, seconds=0) for r in here]
    for seed in (5, 6):
        assert len((tmp_path / "study" / "tutorial-evals" / f"seed{seed}.csv").read_text().splitlines()) == 3


def test_ray_is_a_flag_of_the_learning_benchmark_only(cli_error):
    assert cli_error("bench", "speed", "--ray") == "cartpole-dqn: error: unrecognized arguments: --ray"


@pytest.mark.slow
def test_a_study_runs_through_a_clusters_address_with_its_token(cli, tmp_path, ray_head):
    import ray

    from cartpole_dqn.bench.learning import read_learning_csv

    address, token, cluster_dir = ray_head
    result = cli(
        "bench",
        "learning",
        "--ray",
        address,
        "--seeds",
        2,
        "--seed",
        3,
        "--max-episodes",
        2,
        "--batch-size",
        8,
        "--csv",
        "study/tutorial.csv",
        env={"PYTHONPATH": pythonpath_with(ray), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token},
    )
    assert result.returncode == 0, result.stderr
    assert f"seeds 3..4 as Ray tasks ({address})" in result.stdout.splitlines()[0]
    assert [(r.seed, r.episodes) for r in read_learning_csv(tmp_path / "study" / "tutorial.csv")] == [(3, 2), (4, 2)]
    # The seeds ran in that cluster's workers, which log in its session folder.
    assert list(cluster_dir.glob("session_*/logs/worker-*.out"))


@pytest.mark.slow
def test_a_cluster_that_wants_its_token_refuses_in_one_line_that_says_how(capsys, monkeypatch, tmp_path, ray_head):
    from cartpole_dqn.cli import main

    address = ray_head[0]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)  # Ray sends a token to an explicit address only if asked
    assert main(["bench", "learning", "--ray", address, "--seeds", "2", "--max-episodes", "2"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(
        f"cartpole-dqn: error: the Ray cluster at {address} takes only drivers with its token: "
        "run with RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN"
    )
    assert err.count("\n") == 1


def test_an_address_where_no_cluster_answers_is_a_one_line_error_before_any_work(capsys, monkeypatch, tmp_path):
    pytest.importorskip("ray", reason=RAY_MISSING)
    from cartpole_dqn.cli import main

    address = f"127.0.0.1:{free_port()}"
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "learning", "--ray", address]) == 2
    assert capsys.readouterr().err == (
        f"cartpole-dqn: error: no Ray cluster answers at {address} (Connection refused): start one there with "
        f"`ray start --head --port {address.split(':')[1]}`, or give the address `ray status` shows on its head "
        "node\n"
    )
    assert not any(tmp_path.iterdir())
