"""Write the bundled SQuAD-format question set: ``course_utils/data/qa/{train,validation}.jsonl``.

Why we write our own: the Hub is unreachable offline and SQuAD may not be copied into the
project, yet the §7 notebooks need a SQuAD-shaped set to teach with and to fine-tune on.

How: structured facts (``tools/bundled_qa_facts.json``, named fields: elements, planets, countries, rivers and mountains, scientists,
inventions and events, programming languages, software and machine-learning libraries) are
composed into passages with several phrasings per fact, and each fact carries its questions
(who / what / when / where / how many / why / which). Every answer is a span of its passage;
``answer_start`` is computed from the passage and checked. Some passages get extra background
sentences so that they need several windows at ``max_length`` 256 or 384.

The train split has one answer per question; the validation split has three reference answers
per question (as SQuAD dev has several annotators): the span itself, and variants that
annotators typically give (with or without a leading article or preposition, a shorter head).
Train and validation use different subjects, so no passage or question is shared.

Deterministic: ``python tools/make_bundled_qa.py`` always writes the same bytes (seeded RNG,
sorted output). ``--check`` verifies the committed files instead of writing them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "course_utils" / "data" / "qa"
SEED = 7
VALIDATION_EVERY = 5  # every 5th subject of each category (offset 2) goes to validation


@dataclass
class Fact:
    """One sentence of a passage with the questions it answers (answer = span of the sentence)."""

    text: str
    qas: list[tuple[str, str]] = field(default_factory=list)


def pick(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


FACTS = Path(__file__).resolve().with_name("bundled_qa_facts.json")  # the data: named fields, one object per subject
FIELDS = {  # the order each paragraph function unpacks a subject's fields in
    "elements": ("name", "symbol", "atomic_number", "discoverer", "year", "name_origin", "uses", "property",
                 "why_question", "because"),
    "planets": ("name", "order", "feature", "feature_question", "moons", "moons_question", "naming", "naming_question",
                "why_question", "because"),
    "countries": ("name", "capital", "region", "language", "currency", "landmark", "river", "history", "history_question",
                  "why_question", "because"),
    "scientists": ("name", "born", "birthplace", "field", "achievement_1", "achievement_2", "achievement_3",
                   "why_question", "because"),
    "languages": ("name", "creator", "year", "where", "fact_1", "fact_1_question", "fact_2", "fact_2_question",
                  "why_question", "because"),
}


def _value(field: str, value):
    """A field of the data file as the paragraph functions take it (pairs and triples as tuples)."""
    if field.endswith("_question") and field != "why_question":
        return value["question"], value["answer"]
    if field == "landmark":
        return value["name"], value["what"]
    if field.startswith("achievement_"):
        return value["sentence"], value["question"], value["answer"]
    return value


def load_facts(path: Path = FACTS) -> dict:
    """The fact tables of `path`: subjects as tuples in FIELDS order, sentence lists as (text, [(q, a)])."""
    data = json.loads(path.read_text(encoding="utf-8"))
    facts = {key: [tuple(_value(f, row[f]) for f in fields) for row in data[key]] for key, fields in FIELDS.items()}
    for key in ("geography", "events", "libraries"):
        facts[key] = [(row["name"], [(s["text"], [(q["question"], q["answer"]) for q in s["questions"]])
                                     for s in row["sentences"]]) for row in data[key]]
    facts["background"], facts["statements"] = data["background"], data["statements"]
    return facts


_FACTS = load_facts()
ELEMENTS, PLANETS, COUNTRIES, SCIENTISTS, LANGUAGES = (_FACTS[k] for k in FIELDS)
GEOGRAPHY, EVENTS, LIBRARIES = _FACTS["geography"], _FACTS["events"], _FACTS["libraries"]
BACKGROUND = _FACTS["background"]  # sentences that lengthen a passage (multi-window contexts), per kind of subject
STATEMENTS = _FACTS["statements"]  # statements the simple word-order rule of _why_statement would get wrong


# ==============================================================================================
# Composing passages
# ==============================================================================================
def element_paragraph(e, rng: random.Random) -> list[Fact]:
    name, symbol, number, who, year, origin, use, prop, why_q, because = e
    low = name.lower()
    facts = [Fact(pick(rng, f"{name} is the chemical element with the symbol {symbol} and atomic number {number}.",
                       f"With atomic number {number}, {low} is written with the symbol {symbol} in the periodic table."),
                  [(pick(rng, f"What is the atomic number of {low}?", f"Which atomic number does {low} have?"), str(number)),
                   (pick(rng, f"What is the chemical symbol of {low}?", f"Which symbol stands for {low}?"), symbol)])]
    if who:
        facts.append(Fact(pick(rng, f"It was discovered by {who} in {year}.", f"{who} first identified it in {year}.",
                               f"The element was first isolated in {year} by {who}."),
                          [(pick(rng, f"Who discovered {low}?", f"Who first identified {low}?"), who),
                           (pick(rng, f"When was {low} discovered?", f"In what year was {low} first identified?"), year)]))
    else:
        ancient = pick(rng, "People have known it since ancient times, long before anyone understood what an element was.",
                       "It has been used since prehistoric times, so no one knows who first discovered it.")
        if "prehistoric" in ancient:
            facts.append(Fact(ancient, [(f"Who first discovered {low}?", "no one knows")]))
        else:
            facts.append(Fact(ancient, [(f"How long have people known about {low}?", "since ancient times")]))
    facts.append(Fact(pick(rng, f"Its name comes from {origin}.", f"The name {low} is taken from {origin}."),
                      [(pick(rng, f"Where does the name {low} come from?", f"What is the origin of the name {low}?"), origin)]))
    facts.append(Fact(f"{prop}.", []))
    facts.append(Fact(pick(rng, f"Today it is used {use}.", f"Its main uses today are {use}.", f"Industry uses it {use}."),
                      [(pick(rng, f"What is {low} used for today?", f"How is {low} used today?"), use)]))
    facts.append(Fact(f"The reason {_why_statement(why_q)} is that {because}.", [(f"Why {why_q}?", because)]))
    return facts




def _why_statement(why_q: str) -> str:
    """Turn 'is hydrogen called the water former' into 'hydrogen is called the water former'."""
    if why_q in STATEMENTS:
        return STATEMENTS[why_q]
    aux, rest = why_q.split(" ", 1)
    if aux in ("is", "was", "are", "were", "can", "could"):
        subj, _, pred = rest.partition(" ")
        # subjects of two words ("pure sodium", "the Curies")
        if subj in ("pure", "the", "so") or subj.endswith("'s"):
            w2, _, pred = pred.partition(" ")
            subj = f"{subj} {w2}"
        return f"{subj} {aux} {pred}"
    if aux in ("do", "does", "did"):
        subj, _, pred = rest.partition(" ")
        if subj in ("the", "pure", "so") or subj.endswith("'s"):
            w2, _, pred = pred.partition(" ")
            subj = f"{subj} {w2}"
        verb, _, tail = pred.partition(" ")
        if aux == "did":
            verb = _past(verb)
        elif aux == "does":
            verb = _third(verb)
        return f"{subj} {verb} {tail}".strip()
    return rest


def _past(verb: str) -> str:
    irregular = {"leave": "left", "win": "won", "build": "built", "choose": "chose", "go": "went", "become": "became",
                 "stop": "stopped", "name": "named", "move": "moved", "flee": "fled", "return": "returned",
                 "want": "wanted", "interest": "interested", "ask": "asked", "die": "died", "explore": "explored",
                 "share": "shared", "find": "found", "put": "put", "create": "created", "suspect": "suspected", "not": "did not"}
    return irregular.get(verb, verb + "ed")


def _third(verb: str) -> str:
    irregular = {"have": "has", "do": "does", "go": "goes", "carry": "carries", "swing": "swing", "barely": "barely"}
    if verb in irregular:
        return irregular[verb]
    if verb.endswith(("s", "sh", "ch", "x")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def planet_paragraph(p, rng: random.Random) -> list[Fact]:
    name, order, feat, feat_qa, moons, moons_qa, naming, naming_qa, why_q, because = p
    facts = [Fact(pick(rng, f"{name} is the {order} planet from the Sun.", f"Counting outwards from the Sun, {name} is the {order} planet."),
                  [(pick(rng, f"Which planet is {order} from the Sun?", f"What is the {order} planet from the Sun?"), name),
                   (f"Where is {name} in the order of the planets from the Sun?", order)])]
    facts.append(Fact(f"{feat}.", [feat_qa]))
    facts.append(Fact(f"{moons}.", [moons_qa]))
    facts.append(Fact(f"{naming}.", [naming_qa]))
    facts.append(Fact(pick(rng, f"Astronomers ask why {_why_statement(why_q)}; the answer is that {because}.",
                           f"The reason {_why_statement(why_q)} is that {because}."), [(f"Why {why_q}?", because)]))
    return facts


def country_paragraph(c, rng: random.Random) -> list[Fact]:
    (name, capital, region, lang, currency, (landmark, what), river, hist, hist_qa, why_q, because) = c
    facts = [Fact(pick(rng, f"{name} is a country in {region}, and its capital is {capital}.",
                       f"The capital of {name}, a country in {region}, is {capital}."),
                  [(pick(rng, f"What is the capital of {name}?", f"Which city is the capital of {name}?"), capital),
                   (pick(rng, f"Where is {name}?", f"In which region is {name}?"), region)])]
    many = " and " in lang or "," in lang
    facts.append(Fact(pick(rng, f"The official language{'s are' if many else ' is'} {lang}, and the currency is {currency}.",
                           f"People there speak {lang} and pay with {currency}."),
                      [(pick(rng, f"What language is spoken in {name}?", f"Which language{'s are' if many else ' is'} official in {name}?"), lang),
                       (pick(rng, f"What is the currency of {name}?", f"Which currency is used in {name}?"), currency)]))
    facts.append(Fact(pick(rng, f"Among its best-known sights is {landmark}, {what}.", f"Visitors travel to see {landmark}, {what}."),
                      [(f"What is {landmark}?", what)]))
    if many and lang.count(",") + lang.count(" and ") >= 1:
        n = lang.count(",") + lang.count(" and ") + 1
        words = {2: "two", 3: "three", 4: "four"}[n]
        facts.append(Fact(f"In all, {name} recognises {words} official languages.",
                          [(f"How many official languages does {name} recognise?", words)]))
    facts.append(Fact(pick(rng, f"One of its important rivers is {river}.", f"{river[0].upper() + river[1:]} is one of its most important rivers."),
                      [(f"What is one of the important rivers of {name}?", river)]))
    facts.append(Fact(f"{hist}.", [hist_qa]))
    facts.append(Fact(pick(rng, f"Geographers explain why {_why_statement(why_q)}: {because}.",
                           f"The reason {_why_statement(why_q)} is that {because}."), [(f"Why {why_q}?", because)]))
    return facts


def person_paragraph(s, rng: random.Random) -> list[Fact]:
    name, born, place, field_, a1, a2, a3, why_q, because = s
    pron = "She" if a1[0].startswith("She") or "She " in a1[0] or " her " in a1[0] or a1[0].startswith("Her") else "He"
    if name in ("Marie Curie", "Ada Lovelace", "Rosalind Franklin", "Grace Hopper", "Katherine Johnson", "Lise Meitner"):
        pron = "She"
    surname = name.split()[-1]
    facts = [Fact(pick(rng, f"{name} was born in {place} in {born} and worked in {field_}.",
                       f"Born in {born} in {place}, {name} made a name in {field_}."),
                  [(pick(rng, f"Where was {name} born?", f"In which town was {name} born?"), place),
                   (pick(rng, f"When was {name} born?", f"In what year was {surname} born?"), born),
                   (f"In which field did {name} work?", field_)])]
    for text, q, a in (a1, a2):
        facts.append(Fact(text, [(q, a)]))
    facts.append(Fact(f"{a3[0]}.", [(a3[1], a3[2])]))
    statement = _why_statement(why_q)
    facts.append(Fact(pick(rng, f"Biographers note that {statement} because {because}.",
                           f"{statement[0].upper() + statement[1:]} because {because}."),
                      [(f"Why {why_q}?", f"because {because}")]))
    return facts


def language_paragraph(l, rng: random.Random) -> list[Fact]:
    name, creator, year, where, t1, qa1, t2, qa2, why_q, because = l
    facts = [Fact(pick(rng, f"{name} is a programming language created by {creator} {where}, first released in {year}.",
                       f"{creator} designed the {name} programming language {where}, and it appeared in {year}."),
                  [(pick(rng, f"Who created {name}?", f"Who designed the {name} programming language?"), creator),
                   (pick(rng, f"When was {name} first released?", f"In which year did {name} appear?"), year),
                   (f"Where was {name} created?", where)])]
    facts.append(Fact(f"{t1}.", [qa1]))
    facts.append(Fact(f"{t2}.", [qa2]))
    facts.append(Fact(f"Programmers explain why {_why_statement(why_q)}: {because}.", [(f"Why {why_q}?", because)]))
    return facts


def sentence_paragraph(items, rng: random.Random) -> list[Fact]:
    return [Fact(text, list(qas)) for text, qas in items]


CATEGORIES = [
    ("element", ELEMENTS, lambda e: e[0], element_paragraph),
    ("planet", PLANETS, lambda p: p[0], planet_paragraph),
    ("country", COUNTRIES, lambda c: c[0], country_paragraph),
    ("geography", GEOGRAPHY, lambda g: g[0], lambda g, rng: sentence_paragraph(g[1], rng)),
    ("person", SCIENTISTS, lambda s: s[0], person_paragraph),
    ("event", EVENTS, lambda e: e[0], lambda e, rng: sentence_paragraph(e[1], rng)),
    ("language", LANGUAGES, lambda l: l[0] + " (programming language)", language_paragraph),
    ("software", LIBRARIES, lambda l: l[0], lambda l, rng: sentence_paragraph(l[1], rng)),
]
BACKGROUND_KIND = {"element": "element", "planet": "planet", "country": "country", "geography": "place",
                   "person": "person", "event": "event", "language": "language", "software": "software"}


# ==============================================================================================
# Records
# ==============================================================================================
def compose(title: str, facts: list[Fact], background: list[str], rng: random.Random) -> tuple[str, list[tuple[str, str, int]]]:
    """Join sentences into one passage; return it with (question, answer, answer_start) triples."""
    sentences = [f.text for f in facts]
    qas_per_sentence = [f.qas for f in facts]
    pos = rng.randint(1, len(sentences))  # one block of background, after the opening sentence
    for k, extra in enumerate(background):
        sentences.insert(pos + k, extra)
        qas_per_sentence.insert(pos + k, [])
    context, triples = "", []
    for sentence, qas in zip(sentences, qas_per_sentence):
        offset = len(context) + (1 if context else 0)
        context = f"{context} {sentence}" if context else sentence
        for question, answer in qas:
            at = sentence.find(answer)
            if at < 0:  # "the Loire" opening a sentence reads "The Loire": take the passage's spelling
                at = sentence.lower().find(answer.lower())
                if at < 0:
                    raise AssertionError(f"{title}: answer {answer!r} not in sentence {sentence!r}")
                answer = sentence[at:at + len(answer)]
            triples.append((question, answer, offset + at))
    return context, triples


def validation_answers(context: str, answer: str, start: int) -> tuple[list[str], list[int]]:
    """Three references, as three annotators might mark the same answer."""
    texts, starts = [answer], [start]
    words = answer.split()
    # A shorter span: drop a leading article/preposition/"because", or keep the head of a list.
    lead = ("the ", "The ", "a ", "an ", "in ", "at ", "on ", "because ", "about ", "to ", "for ", "In ", "A ")
    variant = None
    for prefix in lead:
        if answer.startswith(prefix) and len(answer) > len(prefix) + 2:
            variant = (answer[len(prefix):], start + len(prefix))
            break
    if variant is None and len(words) >= 4:
        head = " ".join(words[:len(words) // 2 + 1]).rstrip(",")
        variant = (head, start)
    # A longer span: include the word before (an article or preposition annotators often keep).
    before = context[:start].rstrip()
    longer = None
    if before and context[start - 1:start] == " ":
        prev = before.split()[-1]
        if prev.lower() in ("the", "in", "at", "on", "about", "by", "of", "from", "a", "an"):
            longer = (f"{prev} {answer}", start - len(prev) - 1)
    for extra in (variant, longer):
        if extra and extra[0] not in texts:
            texts.append(extra[0])
            starts.append(extra[1])
    while len(texts) < 3:  # annotators who agree with the first one
        texts.append(answer)
        starts.append(start)
    return texts[:3], starts[:3]


def build() -> dict[str, list[dict]]:
    rng = random.Random(SEED)
    splits: dict[str, list[dict]] = {"train": [], "validation": []}
    counter = 0
    for kind, items, title_of, paragraph in CATEGORIES:
        for index, item in enumerate(items):
            title = title_of(item)
            split = "validation" if index % VALIDATION_EVERY == 2 and title != "Hugging Face Transformers" else "train"
            facts = paragraph(item, rng)
            subject = title.split(" (")[0]
            if kind == "element":
                subject = subject.lower()  # "samples of iron", not "of Iron"
            pool = [b.format(name=subject) for b in BACKGROUND[BACKGROUND_KIND[kind]]]
            # About one passage in three is long enough to need several windows at max_length 256/384.
            n_extra = len(pool) if rng.random() < 0.35 else rng.randint(0, 1)
            background = rng.sample(pool, min(n_extra, len(pool)))
            context, triples = compose(title, facts, background, rng)
            slug = title.lower().replace(" ", "_").replace("(", "").replace(")", "")
            for q_no, (question, answer, start) in enumerate(triples):
                assert context[start:start + len(answer)] == answer
                counter += 1
                rid = hashlib.md5(f"{slug}/{q_no}/{question}".encode()).hexdigest()[:24]
                if split == "train":
                    answers = {"text": [answer], "answer_start": [start]}
                else:
                    texts, starts = validation_answers(context, answer, start)
                    for t, s in zip(texts, starts):
                        assert context[s:s + len(t)] == t, (title, t)
                    answers = {"text": texts, "answer_start": starts}
                splits[split].append({"id": rid, "title": title.replace(" ", "_"), "context": context,
                                      "question": question, "answers": answers})
    return splits


def serialise(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the committed files instead of writing")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    splits = build()
    for split, records in splits.items():
        path = args.out / f"{split}.jsonl"
        text = serialise(records)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{path} is out of date: run python tools/make_bundled_qa.py", file=sys.stderr)
                return 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        contexts = {r["context"] for r in records}
        print(f"{split}: {len(contexts)} paragraphs, {len(records)} questions -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
