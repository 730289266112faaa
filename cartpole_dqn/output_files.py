"""Writing the files a run produces (logs, plots, GIFs) with a clear error."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from cartpole_dqn.errors import UserError


@contextmanager
def writable(path):
    """Yield ``path`` as a Path after creating its folder; OSError inside becomes UserError."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield path
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror or exc})") from None
