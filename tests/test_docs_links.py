"""Every relative link and #anchor in the project's Markdown resolves, as GitHub would resolve it.

The README is a front door whose rooms are docs/ pages; a page renamed or a heading reworded must not leave a
reader at a dead link.  Anchors follow GitHub's rule for headings: the heading's text, lowercased, punctuation
dropped, each space a hyphen; a repeated heading gets -1, -2, ... in order.
"""

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# [text](target) and ![alt](target); the target ends at whitespace (a "title" may follow) or ")".
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"`+([^`]*)`+")


def project_markdown_files() -> list[Path]:
    """README, BENCHMARKS, docs/ and every README inside the package: the Markdown a reader is sent to."""
    files = [ROOT / "README.md", ROOT / "BENCHMARKS.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    files += sorted((ROOT / "cartpole_dqn").rglob("README.md"))
    return [path for path in files if path.is_file()]


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (a link shown as code is not a link)."""
    lines, in_fence = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence and not line.startswith("    "):
            lines.append(line)
    return lines


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading's text (before the -1, -2 of repeats)."""
    text = _INLINE_CODE.sub(r"\1", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    text = re.sub(r"<[^>]+>", "", text)  # and loses its HTML tags
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every #anchor a Markdown file's headings give, repeats numbered as GitHub numbers them."""
    seen: Counter[str] = Counter()
    found = set()
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        anchor = github_anchor(match.group(2))
        found.add(anchor if seen[anchor] == 0 else f"{anchor}-{seen[anchor]}")
        seen[anchor] += 1
    return found


def broken_links(path: Path) -> list[str]:
    """Each relative link or anchor in ``path`` that leads nowhere, as 'file: target (why)'."""
    problems = []
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        for target in _LINK.findall(_INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...: not ours to check offline
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(ROOT)}: {target}"
            if not linked.exists():
                problems.append(f"{where} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{where} (no heading gives #{anchor})")
    return problems


def test_the_project_has_the_markdown_files_a_reader_is_sent_to():
    names = {str(path.relative_to(ROOT)) for path in project_markdown_files()}
    assert {"README.md", "BENCHMARKS.md", "docs/differences.md", "cartpole_dqn/pretrained/README.md"} <= names


@pytest.mark.parametrize("path", project_markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    assert broken_links(path) == []


@pytest.mark.parametrize(
    "heading, anchor",
    [
        (
            "Which saved model to trust: `cartpole-dqn.h5` or `cartpole-dqn-best.h5`",
            "which-saved-model-to-trust-cartpole-dqnh5-or-cartpole-dqn-besth5",
        ),
        (
            "Target network, Double DQN, Huber loss, time-limit bootstrapping (`--preset ddqn`)",
            "target-network-double-dqn-huber-loss-time-limit-bootstrapping---preset-ddqn",
        ),
        (
            "Results: `train --stop-when-solved`, 10 seeds per preset",
            "results-train---stop-when-solved-10-seeds-per-preset",
        ),
        ("The tutorial's DQN_agent, step by step", "the-tutorials-dqn_agent-step-by-step"),
    ],
)
def test_anchors_follow_githubs_rule(heading, anchor):
    assert github_anchor(heading) == anchor


def test_a_broken_file_link_a_broken_anchor_and_a_repeated_heading_are_told_apart(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "other.md").write_text("# Speed\n\n## Speed\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Top\n\n"
        "[fine](other.md#speed-1) [self](#top) [gone](missing.md) [bad anchor](other.md#speed-2)\n"
        "`[in code](nowhere.md)` [web](https://example.com/x#y)\n\n"
        "```\n[in a block](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "page.md: missing.md (no such file)",
        "page.md: other.md#speed-2 (no heading gives #speed-2)",
    ]
