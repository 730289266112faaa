"""Every number a flag takes is checked as the command line reads it: one line, exit 2."""

import argparse
import math

import pytest

from cartpole_dqn.cli import build_parser
from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import DEFAULTS
from cartpole_dqn.number_types import MAX_SEED, RealNumber, WholeNumber


def numeric_flags(parser=None, command=""):
    """(command, flag, type) of every option whose value is a number, found by walking the parser and its
    subcommands (``bench speed``: the command is its words)."""
    found = []
    for action in (parser or build_parser())._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subcommand in action.choices.items():
                found += numeric_flags(subcommand, f"{command} {name}".strip())
            continue
        numeric_default = isinstance(action.default, (int, float)) and not isinstance(action.default, bool)
        if action.option_strings and (
            numeric_default or action.type in (int, float) or isinstance(action.type, (WholeNumber, RealNumber))
        ):
            found.append((command, action.option_strings[0], action.type))
    return found


FLAGS = numeric_flags()


def parse_error(capsys, *argv):
    """The one stderr line of a refused command line (parsing only: nothing runs)."""
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(list(argv))
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_walk_finds_the_flags_it_should():
    flags = {(command, flag) for command, flag, _ in FLAGS}
    assert {
        ("train", "--episodes"),
        ("train", "--seed"),
        ("train", "--gamma"),
        ("train", "--eval-every"),
        ("train", "--stop-when-solved"),
        ("bench speed", "--steps"),
        ("bench learning", "--workers"),
        ("bench sb3", "--rounds"),
        ("test", "--seed"),
    } <= flags


@pytest.mark.parametrize("command, flag, number_type", FLAGS, ids=[f"{c} {f}" for c, f, _ in FLAGS])
def test_every_numeric_flag_refuses_non_finite_and_malformed_values(capsys, command, flag, number_type):
    assert isinstance(number_type, (WholeNumber, RealNumber)), f"{command} {flag} takes an unchecked {number_type}"
    bad = ["nan", "inf", "-inf", "1e999", "x", ""]
    if isinstance(number_type, WholeNumber):
        bad += ["1.5", "1e3", str(number_type.minimum - 1), str(number_type.maximum + 1)]
    for value in bad:
        line = parse_error(capsys, *command.split(), f"{flag}={value}")
        assert line.startswith(f"cartpole-dqn: error: {flag} must be "), line


@pytest.mark.parametrize(
    "command", ["train", "test", "random", "bench speed", "bench learning", "bench profile", "bench sb3"]
)
def test_seeds_are_those_numpy_and_gymnasium_accept(capsys, command):
    assert build_parser().parse_args([*command.split(), "--seed", str(MAX_SEED)]).seed == MAX_SEED
    assert build_parser().parse_args([*command.split(), "--seed", "0"]).seed == 0
    for value in ("-1", str(MAX_SEED + 1), "1.0"):
        line = parse_error(capsys, *command.split(), "--seed", value)
        assert line == f"cartpole-dqn: error: --seed must be a whole number from 0 to {MAX_SEED}, got {value}"


def test_negative_exponents_and_infinities_are_read_as_values_not_flags(capsys):
    assert build_parser().parse_args(["train", "--done-reward", "-1e2"]).done_reward == -100.0
    assert (
        parse_error(capsys, "train", "--done-reward", "-inf")
        == "cartpole-dqn: error: --done-reward must be a finite number, got -inf"
    )


def test_values_from_python_get_the_same_checks():
    for changes, message in [
        ({"gamma": math.nan}, "--gamma must be between 0 and 1, got nan"),
        ({"learning_rate": math.inf}, "--learning-rate must be positive, got inf"),
        ({"done_reward": -math.inf}, "--done-reward must be a finite number"),
        ({"batch_size": 2.0}, "--batch-size must be a positive whole number, got 2.0"),
        ({"EPISODES": True}, "--episodes must be a positive whole number"),
    ]:
        with pytest.raises(UserError, match=message.replace("(", r"\(")):
            DEFAULTS.replace(**changes).validated()
