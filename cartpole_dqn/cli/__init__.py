"""The command line beside the core and the machinery it drives: ``cartpole-dqn``, ``python -m cartpole_dqn``.

:mod:`~cartpole_dqn.cli.commands` makes the four commands (``train``, ``test``, ``random``, ``bench``) and runs
them; :mod:`~cartpole_dqn.cli.flags` holds their shared flag groups and the parser that answers a bad one in
one line.
"""

from cartpole_dqn.cli.commands import EXIT_USER_ERROR, build_parser, main, training_settings

__all__ = ["EXIT_USER_ERROR", "build_parser", "main", "training_settings"]
