"""The panel: every post `scheduler plan` proposes from tests/panel/articles/
must be the one a person judged in tests/panel/verdicts/. A changed text, a new
post or one that is gone fails here; re-judge with `python -m tests.panel.panel
render` (it keeps the verdicts of unchanged texts). The share of publishable
posts is printed, not asserted: the verdicts say what it is."""

from __future__ import annotations

import pytest

from tests.panel import panel


@pytest.fixture(scope="module")
def runs() -> list[panel.ArticleRun]:
    return panel.render()


def test_there_are_enough_articles_of_every_kind(runs):
    assert len(runs) >= 20
    assert all(r.posts for r in runs), [r.name for r in runs if not r.posts]


def test_every_verdict_file_is_well_formed():
    docs = [panel.load_verdicts(p.stem) for p in sorted(panel.VERDICTS.glob("*.toml"))]
    assert docs
    assert [p for d in docs for p in panel.problems(d)] == []


def test_every_rendered_post_is_the_judged_one(runs):
    names = {r.name for r in runs}
    orphans = sorted(p.stem for p in panel.VERDICTS.glob("*.toml") if p.stem not in names)
    assert orphans == [], f"verdicts without an article: {orphans}"
    report = []
    for run in runs:
        diff = panel.compare(run)
        if diff.clean:
            continue
        if diff.page_date_changed:
            report.append(f"{run.name}: page date now {run.published or 'none'}")
        report += [f"{run.name}: new [{p.channel}] {p.text!r}" for p in diff.new]
        report += [f"{run.name}: gone [{c}] {t!r}" for c, _s, t in diff.gone]
        if diff.unjudged:
            report.append(f"{run.name}: {diff.unjudged} posts still unjudged")
    assert report == [], (
        "posts differ from their verdicts; run `python -m tests.panel.panel render` "
        "and judge the new ones:\n" + "\n".join(report)
    )
    panel.print_summary(panel.summary(runs))
