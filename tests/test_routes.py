"""The routes' figures: the studies' files, cartpole_dqn/training/routes.py and the pages that quote them must agree.

routes.py is the one place the not-solved line reads its figures from; these tests read the study CSVs
themselves, so a figure retyped wrong in routes.py fails, and a page that quotes another figure fails too.
"""

import csv
import re
import statistics
from pathlib import Path

import pytest

from cartpole_dqn.training import routes
from cartpole_dqn.training.evaluation import DEFAULT_CONFIRM_EPISODES, DEFAULT_EVAL_EPISODES, DEFAULT_PROOF_EPISODES

ROOT = Path(__file__).resolve().parent.parent
ROUTES = [routes.SOLVES_SOONEST, routes.STAYS_LEARNED]


def study_rows(name: str) -> list[dict[str, str]]:
    with open(ROOT / name, newline="", encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


def page_text(name: str) -> str:
    """A page's text with every run of whitespace one space, so that a phrase wrapped across lines still matches."""
    return re.sub(r"\s+", " ", (ROOT / name).read_text(encoding="utf-8"))


def assert_rows_are_the_routes_runs(rows, route) -> None:
    """The study's rows are of the route's preset, one per seed of the route's seeds."""
    assert {row["preset"] for row in rows} == {route.preset}
    assert sorted(int(row["seed"]) for row in rows) == list(range(route.first_seed, route.first_seed + route.runs))


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.preset)
def test_each_routes_figures_are_its_studys(route):
    rows = study_rows(route.study)
    assert_rows_are_the_routes_runs(rows, route)
    assert {int(row["max_episodes"]) for row in rows} == {route.episodes}
    solved = [int(row["solved"]) for row in rows if row["solved"]]
    assert len(solved) == route.solved
    assert statistics.median(solved) == route.median_solved_episode
    if route.median_seconds is not None:
        assert round(statistics.median(float(row["seconds"]) for row in rows), 1) == route.median_seconds


def test_the_stays_learned_share_is_the_study_without_a_stop_on_the_routes_seeds():
    route = routes.STAYS_LEARNED
    rows = study_rows(routes.STAYS_LEARNED_SHARE_STUDY)
    assert_rows_are_the_routes_runs(rows, route)
    shares = [float(row["stays_solved"]) for row in rows if row["stays_solved"]]
    assert round(statistics.median(shares), 2) == routes.STAYS_LEARNED_SHARE


@pytest.mark.parametrize("page", ["README.md", "docs/training-and-evaluation.md"])
def test_the_pages_quote_the_routes_commands_with_the_same_figures(page):
    text = page_text(page)
    for route in ROUTES:
        assert route.command in text, f"{page} does not give {route.command}"
        assert route.figures in text, f"{page} does not say '{route.figures}'"
    assert routes.stays_learned_figures() in text


def test_the_glossary_and_the_notebook_quote_the_stays_learned_figure():
    for page in ["docs/glossary.md", "notebooks/cartpole_dqn_walkthrough.py"]:
        assert routes.stays_learned_figures() in page_text(page), page


def test_the_readme_says_what_the_tutorials_recipe_waits_and_gives_from_its_study():
    rows = study_rows("docs/solved-study/tutorial-2026-12-04/seeds-500-509.csv")
    unsolved = [row for row in rows if not row["solved"]]
    minutes = sorted(float(row["seconds"]) / 60 for row in rows)
    unsolved_minutes = sorted(float(row["seconds"]) / 60 for row in unsolved)
    tests = sorted((int(row["best_test_500s"]) for row in unsolved), reverse=True)
    text = page_text("README.md")
    assert f"{len(unsolved)} of {len(rows)} ran all {rows[0]['max_episodes']} episodes" in text
    assert f"{minutes[0]:.1f} to {minutes[-1]:.1f} minutes" in text
    assert f"({unsolved_minutes[0]:.1f} to {unsolved_minutes[-1]:.1f} minutes)" in text
    assert f"{', '.join(map(str, tests[:-1]))} and {tests[-1]} of 20" in text


def test_solved_means_the_same_number_of_episodes_in_help_readme_docs_and_notebook():
    every = DEFAULT_EVAL_EPISODES + DEFAULT_CONFIRM_EPISODES + DEFAULT_PROOF_EPISODES
    for page in ["README.md", "docs/glossary.md", "docs/notebook.md", "notebooks/cartpole_dqn_walkthrough.py"]:
        text = page_text(page)
        assert f"all {every}" in text or f"every one of its {every}" in text, page
        assert not re.search(rf"solved means all (?!{every})\d+", text), page
