"""The one exception the command line turns into a one-line message, and the hint that names an extra."""

from cartpole_dqn.version import __version__


class UserError(Exception):
    """Something the user can fix: a bad path, value or environment.

    The CLI prints ``error: <message>`` and exits non-zero instead of showing
    a traceback.
    """


def install_hint(extra: str) -> str:
    """How to add an optional extra: the editable install from a checkout, or the extra on the built wheel."""
    return (
        f'pip install -e ".[{extra}]" in a checkout of the project, or '
        f'pip install "cartpole_dqn-{__version__}-py3-none-any.whl[{extra}]" beside a built wheel'
    )
