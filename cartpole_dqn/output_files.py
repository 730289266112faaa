"""The files a run writes: checked before it starts, each written whole or not at all.

The checks here answer, before any episode runs, whether every output can be
written: a folder that cannot be created or written, a file where a folder
must be, a model name Keras cannot save to, a plot name matplotlib cannot draw.  ``written_atomically``
writes each file under a unique temporary name beside its target and renames
it into place, so a crash, Ctrl-C or a second process writing or reading the
same file never sees half of it.

No TensorFlow here (and matplotlib only when a plot name is checked): the
command line checks its outputs before it loads it.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from cartpole_dqn.errors import UserError

# What Keras 3's model.save accepts (it compares the name's end, case and all).
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


def check_model_path(path, what="--model") -> None:
    """UserError unless Keras can save a model to ``path`` and the folder takes it."""
    if not str(path).endswith(MODEL_SUFFIXES):
        raise UserError(f"{what} {path}: Keras saves models only to names ending in {', '.join(MODEL_SUFFIXES)}")
    check_file(path, what)


def check_plot_path(path, what="--plot") -> None:
    """UserError unless matplotlib draws the format ``path``'s suffix names (as savefig picks it), and the folder
    takes it."""
    formats = plot_formats()
    if not Path(path).is_dir() and Path(path).suffix[1:].lower() not in formats:
        raise UserError(
            f"{what} {path}: matplotlib writes plots only to names ending in "
            f"{', '.join('.' + name for name in formats)}"
        )
    check_file(path, what)


def plot_formats() -> list[str]:
    """The suffixes (without the dot) matplotlib's savefig writes here."""
    from matplotlib.backend_bases import FigureCanvasBase

    # .pgf is LaTeX drawing code that matplotlib measures with a TeX installation while saving: not ours to require.
    return sorted(name for name in FigureCanvasBase.get_supported_filetypes() if name != "pgf")


def check_file(path, what) -> None:
    """UserError unless ``path`` can be written: its folder created and written, and no folder in its place."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder; it must name a file")
    _check_writable_folder(path.parent, what, path)


def check_folder(path, what) -> None:
    """UserError unless ``path`` is (or can be made) a folder this process can write in."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} is a file; it must name a folder")
    _check_writable_folder(path, what, path)


def _check_writable_folder(folder: Path, what, target) -> None:
    blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UserError(f"{what} {target} cannot be written: {blocking} is a file, not a folder")
    # Asking os.access is not enough (root passes it on a read-only disk):
    # make the folders and one empty file, as the real write will.
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{what} {target} cannot be written ({_reason(exc)})") from None


def _reason(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


@contextmanager
def written_atomically(path, durable: bool = False):
    """Yield a unique temporary path beside ``path``; rename it to ``path`` when the block ends.

    The temporary name keeps the suffix (Keras and Pillow choose the format
    by it).  If the block fails, the temporary file is removed and ``path``
    keeps its old content.  ``durable`` also flushes the file to disk before
    the rename, so that even a power cut leaves the old or the new file.
    An OSError becomes a one-line UserError.
    """
    path = Path(path)
    partial: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
        os.close(handle)
        partial = Path(name)
        yield partial
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(partial, 0o666 & ~_umask())
        if durable:
            with open(partial, "rb") as written:
                os.fsync(written.fileno())
        os.replace(partial, path)
        partial = None
    except OSError as exc:
        raise UserError(f"cannot write {path} ({_reason(exc)})") from None
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_csv(path, header, rows) -> Path:
    """Write a whole CSV file atomically: the header, then every row."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    with written_atomically(path) as partial:
        partial.write_text(text.getvalue(), newline="")
    return Path(path)
