"""``bench --learning --ray``: the same seeds as Ray tasks on a local runtime give the same CSV.

Skipped where Ray is not installed (CI installs the extra: ``pip install -e ".[test,ray]"``).
"""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO


def test_without_ray_installed_the_flag_is_a_one_line_error_naming_the_extra(tmp_path):
    # Ray hidden from this process even where it is installed: None in sys.modules makes `import ray` fail.
    code = ("import sys; sys.modules['ray'] = None; from cartpole_dqn.cli import main; "
            "sys.exit(main(['bench', '--learning', '--ray']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 2
    assert result.stderr == ('cartpole-dqn: error: --ray needs Ray, which is not installed here: '
                             'pip install "cartpole-dqn[ray]"\n')


def test_a_study_on_a_local_ray_runtime_writes_the_csv_the_worker_processes_write(cli, tmp_path):
    ray = pytest.importorskip("ray", reason='Ray is not installed: pip install -e ".[test,ray]"')
    from cartpole_dqn.benchmark import SeedTask, learn_one_seed, read_learning_csv
    from cartpole_dqn.hyperparameters import DEFAULTS

    # Wherever this process found Ray, the CLI's process (and its Ray workers) find it too.
    ray_path = str(Path(ray.__file__).parent.parent)
    result = cli("bench", "--learning", "--ray", "--keep-training", "--seeds", 2, "--seed", 5, "--max-episodes", 2,
                 "--batch-size", 8, "--csv", "study/tutorial.csv",
                 env={"PYTHONPATH": os.pathsep.join([str(REPO), ray_path])})
    assert result.returncode == 0, result.stderr
    assert "seeds 5..6 as Ray tasks (a local runtime)" in result.stdout.splitlines()[0]

    on_ray = read_learning_csv(tmp_path / "study" / "tutorial.csv")
    here = [learn_one_seed(SeedTask("tutorial", DEFAULTS.replace(EPISODES=2, batch_size=8), seed,
                                    keep_training=True))[0] for seed in (5, 6)]
    assert [dataclasses.replace(r, seconds=0) for r in on_ray] == [
        dataclasses.replace(r, seconds=0) for r in here]
    for seed in (5, 6):
        assert len((tmp_path / "study" / "tutorial-evals" / f"seed{seed}.csv").read_text().splitlines()) == 3


def test_ray_without_learning_is_refused_in_one_line(cli):
    result = cli("bench", "--ray")
    assert result.returncode == 2
    assert result.stderr == "cartpole-dqn: error: --ray runs the learning benchmark's seeds: give --learning too\n"
