"""``bench sb3``: the package beside Stable-Baselines3's DQN, alternating, ends with its ratio line.

SB3 is an optional extra; CI does not install it, so the side-by-side run is
skipped there.  No test asserts a speed.
"""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

NUMBER = r"\d+(\.\d+)?"
AGAINST_SB3_LINE = re.compile(
    rf"against-sb3: package_steps_per_s={NUMBER} sb3_steps_per_s={NUMBER} ratio={NUMBER} package_cpu_ms={NUMBER} "
    rf"sb3_cpu_ms={NUMBER} cpu_ratio={NUMBER} rounds=1 steps=20"
)


def test_without_sb3_installed_the_flag_is_a_one_line_error_naming_the_extra(tmp_path):
    # SB3 hidden from this process even where it is installed: None in sys.modules makes it unfindable.
    code = (
        "import sys; sys.modules['stable_baselines3'] = None; from cartpole_dqn.cli import main; "
        "sys.exit(main(['bench', 'sb3']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "cartpole-dqn: error: bench sb3 needs Stable-Baselines3, which is not installed "
        'here: pip install -e ".[sb3]" in a checkout of the project, or '
        'pip install "cartpole_dqn-0.2.0-py3-none-any.whl[sb3]" beside a built wheel\n'
    )


@pytest.mark.skipif(
    importlib.util.find_spec("stable_baselines3") is None,
    reason='Stable-Baselines3 is not installed: pip install -e ".[test,sb3]"',
)
def test_a_tiny_side_by_side_run_alternates_and_ends_with_the_ratio_line(cli, tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    result = cli("bench", "sb3", "--steps", 20, "--rounds", 1, "--batch-size", 8, env={"TMPDIR": str(temp)})
    assert result.returncode == 0, result.stderr
    assert not [path.name for path in temp.iterdir() if path.name.startswith("SB3-")]  # SB3's logger leaves no folder
    lines = result.stdout.strip().splitlines()
    assert AGAINST_SB3_LINE.fullmatch(lines[-1]), lines[-1]
    assert "PyTorch: torch.set_num_threads(1)" in result.stdout and "TensorFlow: 1 thread(s) per operation" in lines[1]
    turns = [line.split()[2].rstrip(":") for line in lines if line.startswith("round 1 ")]
    assert turns == ["package", "SB3", "ratio"]  # the package, then SB3, then their ratio
    assert "20 gradient steps" in result.stdout  # SB3: one gradient step per environment step
