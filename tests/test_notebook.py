"""The walkthrough notebook as committed: its two files tell the same story, and it reads on GitHub without running.

The plain-text source (jupytext's "percent" format) is what a reviewer reads and CI runs; the ``.ipynb`` is what
GitHub shows, with the outputs of a full run.  An edit to one file that was not synced to the other would show a
reader code that is not what runs.  Running it is CI's job (``.ci/run``), not this test's: it trains.
"""

import json
import re
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "cartpole_dqn_walkthrough.ipynb"
SOURCE = NOTEBOOK.with_suffix(".py")
_CELL_MARKER = re.compile(r"^# %%(?: \[(markdown)\])?\s*$")


def percent_cells(text: str) -> list[tuple[str, str]]:
    """(cell type, source) of each cell of a jupytext percent-format script, its header left out."""
    lines = text.splitlines()
    if lines and lines[0] == "# ---":
        lines = lines[lines.index("# ---", 1) + 1 :]
    cells: list[tuple[str, list[str]]] = []
    for line in lines:
        marker = _CELL_MARKER.match(line)
        if marker:
            cells.append(("markdown" if marker.group(1) else "code", []))
        elif cells:
            cells[-1][1].append(line)
    result = []
    for kind, body in cells:
        if kind == "markdown":
            body = [re.sub(r"^# ?", "", line) for line in body]
        result.append((kind, "\n".join(body).strip("\n")))
    return result


def notebook_cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def test_the_notebook_and_its_plain_text_source_hold_the_same_cells():
    committed = [(cell["cell_type"], "".join(cell["source"]).strip("\n")) for cell in notebook_cells()]
    assert committed == percent_cells(SOURCE.read_text(encoding="utf-8"))


def test_the_notebook_is_committed_run_top_to_bottom_without_errors():
    code_cells = [cell for cell in notebook_cells() if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in code_cells] == list(range(1, len(code_cells) + 1))
    outputs = [output for cell in code_cells for output in cell["outputs"]]
    assert not [output for output in outputs if output["output_type"] == "error"]
    shown = {kind for output in outputs for kind in output.get("data", {})}
    assert {"image/png", "image/gif", "text/markdown"} <= shown  # the plots, the GIF, the presets' table


def test_the_notebook_stays_small_enough_to_read_on_github():
    assert NOTEBOOK.stat().st_size < 1_500_000


def test_the_percent_reader_sees_cell_types_and_strips_markdown_comments():
    text = "# ---\n# jupyter: {}\n# ---\n\n# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n# %%\nprint(x)\n"
    assert percent_cells(text) == [("markdown", "# Title\n\ntext"), ("code", "x = 1"), ("code", "print(x)")]
