"""``bench sb3``: the package beside Stable-Baselines3's DQN doing the same work and with its stock policy, in
turns, ends with both ratios.

SB3 is an optional extra; CI does not install it, so the side-by-side run is
skipped there.  No test asserts a speed.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

NUMBER = r"\d+(\.\d+)?"


def against_sb3_line(threads: str) -> re.Pattern:
    return re.compile(
        rf"against-sb3: package_steps_per_s={NUMBER} sb3_steps_per_s={NUMBER} sb3_stock_steps_per_s={NUMBER} "
        rf"ratio={NUMBER} stock_ratio={NUMBER} package_cpu_ms={NUMBER} sb3_cpu_ms={NUMBER} "
        rf"sb3_stock_cpu_ms={NUMBER} cpu_ratio={NUMBER} stock_cpu_ratio={NUMBER} sb3_threads={threads} "
        rf"rounds=1 steps=20"
    )


def run_python(code: str, folder) -> subprocess.CompletedProcess:
    """``code`` run by a Python process of its own in ``folder``, with this repository's package."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_sb3_installed_the_flag_is_a_one_line_error_naming_the_extra(tmp_path):
    # SB3 hidden from this process even where it is installed: None in sys.modules makes it unfindable.
    code = (
        "import sys; sys.modules['stable_baselines3'] = None; from cartpole_dqn.cli import main; "
        "sys.exit(main(['bench', 'sb3']))"
    )
    result = run_python(code, tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "cartpole-dqn: error: bench sb3 needs Stable-Baselines3, which is not installed "
        'here: pip install -e ".[sb3]" in a checkout of the project, or '
        'pip install "cartpole_dqn-0.2.0-py3-none-any.whl[sb3]" beside a built wheel\n'
    )


needs_sb3 = pytest.mark.skipif(
    importlib.util.find_spec("stable_baselines3") is None,
    reason='Stable-Baselines3 is not installed: pip install -e ".[test,sb3]"',
)


@needs_sb3
def test_a_tiny_side_by_side_run_takes_turns_and_ends_with_both_ratios(cli, tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    result = cli("bench", "sb3", "--steps", 20, "--rounds", 1, "--batch-size", 8, env={"TMPDIR": str(temp)})
    assert result.returncode == 0, result.stderr
    assert not [path.name for path in temp.iterdir() if path.name.startswith("SB3-")]  # SB3's logger leaves no folder
    lines = result.stdout.strip().splitlines()
    assert against_sb3_line("1").fullmatch(lines[-1]), lines[-1]
    assert "TensorFlow: 1 thread(s) per operation" in lines[1]
    assert "SB3: PyTorch: torch.set_num_threads(1)" in lines[1]
    assert "SB3-stock: PyTorch: torch.set_num_threads(1)" in lines[1]
    round_lines = [line for line in lines if line.startswith("round 1 ")]
    turns = [line.split()[2].rstrip(":") for line in round_lines]
    assert turns == ["package", "SB3", "SB3-stock", "ratio"]  # the package, then SB3 twice, then the ratios
    assert re.fullmatch(rf"round 1 ratio: {NUMBER} over SB3, {NUMBER} over SB3-stock", round_lines[-1])
    assert all("20 gradient steps" in line for line in round_lines[1:3])  # SB3: one gradient step per step


STOCK_SIDE_WITH_OWN_THREADS = """
import json, torch
from cartpole_dqn.bench.sb3 import SB3StockSide
from cartpole_dqn.hyperparameters import DEFAULTS
before = torch.get_num_threads()
side = SB3StockSide(DEFAULTS.replace(batch_size=8), 0, 0)
print(json.dumps({
    "threads": [before, torch.get_num_threads()],
    "line": side.threads(),
    "gradient_steps": side.run(10).gradient_steps,
    "dropouts": sum(isinstance(module, torch.nn.Dropout) for module in side.model.policy.modules()),
}))
"""


@needs_sb3
def test_the_stock_side_has_no_dropout_and_sb3_threads_0_leaves_pytorch_its_own_default(tmp_path):
    # In a process of its own, as bench sb3 runs it: PyTorch beside this process's TensorFlow can crash.
    result = run_python(STOCK_SIDE_WITH_OWN_THREADS, tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    before, after = found["threads"]
    assert after == before
    assert found["line"] == f"SB3-stock: PyTorch's own default, {before} thread(s)"
    assert found["gradient_steps"] == 10
    assert found["dropouts"] == 0  # SB3's stock policy: no Dropout
