"""Benchmark of bot.query.matcher: a day of papers against 100,000 subscriptions.

    python benchmarks/match.py                       # 2,000 papers x 100,000 subscriptions
    python benchmarks/match.py --papers 200 --subs 5000   # a quick run

Papers are synthetic but shaped like arXiv listings: a title and a ~1,500-character abstract drawn
from a Zipf-distributed vocabulary (function words, domain terms with their inflections, hyphenated
compounds, multi-word phrases, a long tail of rare words, some accented), seeded, so every run sees
the same input. Subscriptions have 1-4 terms: words, phrases, fields, prefixes, NOT, some OR.

Prints: the indexed matcher's time, the floor (tokenizing every paper once), one-by-one evaluation
on a sample extrapolated to every pair, and the peak memory of the process. Caches of word keys and
folded characters are cleared before each timed step, so every step starts cold.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.models import Paper  # noqa: E402
from bot.query.compile import compile_query, evaluate, term_holds  # noqa: E402
from bot.query.matcher import Matcher, matches  # noqa: E402
from bot.query.syntax import parse_query  # noqa: E402
from bot.query.words import _fold_char, tokenize_paper, word_key  # noqa: E402

FUNCTION = """the of and to a in is that for we on with as by this are be from an which our
it at can or these using based their such also has have not its than both while into more
however other been show over between through results each two only new when how where both
all under most without then well them they there however via one among across further""".split()
DOMAIN = """model language learning neural network data training method approach performance task
graph attention transformer diffusion image generation reasoning benchmark evaluation agent policy
reinforcement reward retrieval knowledge representation embedding token context inference
optimization gradient loss sparse dense quantization pruning distillation alignment preference
feedback human instruction prompt chain thought robustness adversarial attack defense privacy
federated clustering classification segmentation detection tracking video audio speech translation
summarization dialogue question answering multimodal vision text code program synthesis
verification proof theorem mathematical physics quantum molecular protein drug discovery clinical
medical patient diagnosis genomics cell simulation dynamics control robot manipulation navigation
planning search tree sampling estimation uncertainty calibration bayesian causal counterfactual
fairness bias explanation interpretability feature circuit neuron layer depth width scaling law
compute efficiency latency memory cache hardware accelerator kernel parallel distributed cascade
deferral judge routing mixture expert ensemble curriculum contrastive supervised unsupervised
semi self zero few shot transfer domain adaptation generalization distribution shift anomaly
outlier forecasting time series temporal spatial point cloud mesh rendering scene reconstruction
depth estimation pose hand face body motion style editing inpainting super resolution compression
codec watermark detection hallucination factuality toxicity safety jailbreak red teaming
""".split()
COMPOUNDS = """fine-tuning state-of-the-art self-supervised large-scale end-to-end multi-agent
long-context real-time zero-shot few-shot open-source low-rank in-context chain-of-thought
vision-language text-to-image sequence-to-sequence""".split()
PHRASES = [
    "language model",
    "large language models",
    "graph neural network",
    "reinforcement learning",
    "diffusion models",
    "question answering",
    "retrieval augmented generation",
    "mixture of experts",
    "knowledge distillation",
    "neural network",
    "point cloud",
    "time series forecasting",
]
COMMON = set(FUNCTION + DOMAIN + [w + e for w in DOMAIN for e in ("s", "ing", "ed", "al")])
ACCENTED = ["naïve", "Schrödinger", "Poincaré", "Erdős", "café", "≈", "façade", "résumé"]
CATEGORIES = [f"cs.{c}" for c in "CL LG AI CV RO IR NE CR DS SE HC MA SD".split()] + [
    "stat.ML",
    "math.OC",
    "q-bio.QM",
    "physics.comp-ph",
    "eess.AS",
]
SOURCES = ["hf-daily", "arxiv-cs-cl", "arxiv-cs-lg", "nature"]
SYLLABLES = "ka lo mi ne ru sa to vi xe zo bri cla dre fro gla plu stra tho qua ve ni".split()


def _inflect(word: str, rng: random.Random) -> str:
    ending = rng.choices(["", "s", "ing", "ed", "al"], [8, 4, 2, 2, 1])[0]
    return word + ending if len(word) > 3 else word


def build_vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    """Words (or phrases, kept together) and their Zipf weights, most frequent first."""
    tail = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(25_000)})
    rng.shuffle(tail)
    middle = DOMAIN + COMPOUNDS + PHRASES + [_inflect(w, rng) for w in DOMAIN]
    # Domain terms spread over ranks ~100-3,000, as topic words are in real abstracts: a few
    # percent of papers each, not half of them.
    ranked = tail[:2300] + middle
    rng.shuffle(ranked)
    words = FUNCTION + ranked + tail[2300:]
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(words))]
    return words, weights


def make_papers(count: int, rng: random.Random) -> list[Paper]:
    words, weights = build_vocabulary(rng)
    cumulative = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    topical = DOMAIN + COMPOUNDS + PHRASES
    start = datetime(2026, 1, 1, tzinfo=UTC)
    papers = []
    for n in range(count):
        title = " ".join(rng.choices(topical, k=rng.randint(4, 10))).capitalize()
        target = max(400, int(rng.gauss(1500, 250)))
        sentences, length = [], 0
        while length < target:
            sentence = rng.choices(words, cum_weights=cumulative, k=rng.randint(12, 28))
            if rng.random() < 0.1:
                sentence.insert(rng.randrange(len(sentence)), rng.choice(topical))
            if rng.random() < 0.02:
                sentence.insert(rng.randrange(len(sentence)), rng.choice(ACCENTED))
            text = " ".join(sentence).capitalize() + "."
            sentences.append(text)
            length += len(text) + 1
        papers.append(
            Paper(
                title=title,
                abstract=" ".join(sentences),
                authors=tuple(
                    f"{rng.choice(SYLLABLES).title()}{rng.choice(SYLLABLES)} "
                    f"{''.join(rng.choices(SYLLABLES, k=3)).title()}"
                    for _ in range(rng.randint(2, 8))
                ),
                categories=tuple(rng.sample(CATEGORIES, rng.randint(1, 3))),
                sources=(rng.choice(SOURCES),),
                published=start + timedelta(minutes=n),
                id=f"arxiv:2601.{n:05d}",
            )
        )
    return papers


def _term(rng: random.Random, papers: list[Paper], specific: list[str], first: bool) -> str:
    """One term; a first term is specific (a topic), later ones may be broad filters."""
    kinds = ["word", "phrase", "field", "prefix", "rare", "compound"]
    weights = [4, 10, 15, 6, 60, 5] if first else [40, 10, 25, 10, 15, 0]
    kind = rng.choices(kinds, weights)[0]
    if kind == "word":
        return rng.choice(DOMAIN)
    if kind == "compound":
        return rng.choice(COMPOUNDS)
    if kind == "rare" or (kind == "prefix" and first):
        # a word in at most 1% of the papers: a specific interest
        word = rng.choice(specific)
        return word if kind == "rare" or len(word) < 7 else word[:-1] + "*"
    if kind == "phrase":
        return f'"{rng.choice(PHRASES)}"'
    if kind == "prefix":
        word = rng.choice([w for w in DOMAIN if len(w) > 6])
        return word[: len(word) - rng.randint(1, 3)] + "*"
    fields = ["title", "author"] if first else ["title", "abstract", "author", "category", "source"]
    field = rng.choice(fields)
    if field == "author":
        return "author:" + rng.choice(rng.choice(papers).authors).split()[-1]
    if field == "category" and not first:
        return "category:" + rng.choice(CATEGORIES + ["cs.*"])
    if field == "source" and not first:
        return "source:" + rng.choice(SOURCES)
    if rng.random() < 0.2:
        return f"title:({rng.choice(DOMAIN)} OR {rng.choice(DOMAIN)})"
    return f"{'abstract' if field == 'abstract' else 'title'}:{rng.choice(DOMAIN + COMPOUNDS)}"


def make_queries(count: int, rng: random.Random, papers: list[Paper]) -> dict[str, list[str]]:
    """Owners with 1-5 queries each, `count` queries in all."""
    seen_in = Counter(w for p in papers for w in set(re.findall(r"\w+", p.abstract.lower())))
    limit = max(2, len(papers) // 100)
    specific = sorted(w for w, n in seen_in.items() if 2 <= n <= limit and w not in COMMON)
    owners: dict[str, list[str]] = {}
    made = 0
    while made < count:
        queries = owners.setdefault(f"user{len(owners)}@example.org", [])
        for _ in range(min(rng.randint(1, 5), count - made)):
            size = rng.choices([1, 2, 3, 4], [25, 40, 25, 10])[0]
            terms = [_term(rng, papers, specific, i == 0) for i in range(size)]
            for i in range(1, len(terms)):
                roll = rng.random()
                if roll < 0.12:
                    terms[i] = "-" + terms[i]
                elif roll < 0.16:
                    terms[i] = "NOT " + terms[i]
                elif roll < 0.22:
                    one, two = (_term(rng, papers, specific, True) for _ in "12")
                    terms[i] = f"({one} OR {two})"
            queries.append(" ".join(t for t in terms if t))
            made += 1
    return owners


def _cold() -> None:
    word_key.cache_clear()
    _fold_char.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--subs", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2000, help="pairs evaluated one by one")
    parser.add_argument("--seed", type=int, default=20260427)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    papers = make_papers(args.papers, rng)
    queries = make_queries(args.subs, rng, papers)
    chars = sum(len(p.title) + len(p.abstract) for p in papers) / len(papers)
    print(f"{len(papers)} papers (mean {chars:.0f} chars), {args.subs} subscriptions")

    _cold()
    t = time.perf_counter()
    matcher = Matcher(queries)
    compile_s = time.perf_counter() - t

    # Cold: no word has been stemmed yet (a fresh process). Warm: the daemon's steady state,
    # where the words of earlier batches already have their keys.
    _cold()
    floor_cold = _timed(lambda: [tokenize_paper(p) for p in papers])[1]
    _cold()
    result, match_cold = _timed(lambda: matcher.match(papers))
    documents, floor_warm = _timed(lambda: [tokenize_paper(p) for p in papers])
    match_warm = _timed(lambda: matcher.match(papers))[1]
    pairs = sum(len(owners) for owners in result.values())

    pairs_all = [(o, q) for o, qs in queries.items() for q in dict.fromkeys(qs)]
    sample = [(rng.choice(pairs_all), rng.randrange(len(papers))) for _ in range(args.sample)]
    every_pair = len(pairs_all) * len(papers) / len(sample)
    naive, naive_s = _timed(lambda: [matches(q, papers[i]) for (_, q), i in sample])
    naive_s *= every_pair
    compiled = {q: _compile(q) for (_, q), _ in sample}
    prepared, prepared_s = _timed(
        lambda: [
            evaluate(
                compiled[q][0], lambda n, q=q, i=i: term_holds(compiled[q][1][n], documents[i])
            )
            for (_, q), i in sample
        ]
    )
    prepared_s *= every_pair
    for ((owner, q), i), one, two in zip(sample, naive, prepared, strict=True):
        found = q in result.get(papers[i].id, {}).get(owner, ())
        assert one == two == found, (owner, q, papers[i].id)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"matches found: {pairs} (subscription, paper) pairs, {pairs / len(pairs_all):.1f} per")
    print(f"  subscription; a sample of {len(sample)} pairs agrees with one-by-one evaluation")
    print(f"compile every query once:                {compile_s:9.2f} s")
    print("                                               cold        warm")
    print(f"floor: tokenize every paper once:        {floor_cold:9.2f} s {floor_warm:9.2f} s")
    print(f"indexed matcher (tokenize + match):      {match_cold:9.2f} s {match_warm:9.2f} s")
    print(
        f"  = x floor:                             {match_cold / floor_cold:9.2f}x "
        f"{match_warm / floor_warm:9.2f}x"
    )
    print(
        f"one by one, matches(text, paper):        {naive_s:9.0f} s "
        f"= {naive_s / match_cold:,.0f}x the cold matcher (extrapolated from the sample)"
    )
    print(
        f"one by one, compiled queries, tokenized papers: {prepared_s:.0f} s "
        f"= {prepared_s / match_warm:,.0f}x the warm matcher"
    )
    print(f"peak memory (maxrss):                    {peak_mb:9.0f} MB")


def _timed(work):
    start = time.perf_counter()
    value = work()
    return value, time.perf_counter() - start


def _compile(text: str):
    terms: dict = {}
    program = compile_query(parse_query(text), terms)
    return program, list(terms)


if __name__ == "__main__":
    main()
