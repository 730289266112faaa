"""The one exception the command line turns into a one-line message."""


class UserError(Exception):
    """Something the user can fix: a bad path, value or environment.

    The CLI prints ``error: <message>`` and exits non-zero instead of showing
    a traceback.
    """
