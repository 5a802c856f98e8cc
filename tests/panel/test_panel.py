"""The panel: every post `scheduler plan` proposes from tests/panel/articles/
must be the one a person judged in tests/panel/verdicts/. A changed text, a new
post or one that is gone fails here; re-judge with `python -m tests.panel.panel
render` (it keeps the verdicts of unchanged texts). The share of publishable
posts is printed, not asserted: the verdicts say what it is.

One test renders (about 5 s of CPU): under pytest-xdist a module's tests may
run on different workers, and a shared fixture would render once on each."""

from __future__ import annotations

from tests.panel import panel


def test_every_verdict_file_is_well_formed_and_has_its_article():
    articles = sorted(p.stem for p in panel.ARTICLES.glob("*.html"))
    verdicts = sorted(p.stem for p in panel.VERDICTS.glob("*.toml"))
    assert len(articles) >= 20
    assert verdicts == articles
    docs = [panel.load_verdicts(name) for name in verdicts]
    assert [p for d in docs for p in panel.problems(d)] == []


def test_every_rendered_post_is_the_judged_one():
    runs = panel.render()
    assert [r.name for r in runs] == sorted(p.stem for p in panel.ARTICLES.glob("*.html"))
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
