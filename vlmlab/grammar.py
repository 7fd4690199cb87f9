"""The language of ShapesWorld 2: captions, their parser, hard negatives and questions.

A caption is built from a scene's ground truth (``vlmlab.scenes.Scene``) by
a small grammar::

    caption  := objects [" with " glyphs]
    objects  := phrase " " relation " " phrase     (exactly two objects, of two kinds)
              | phrase (" and " phrase)*            (otherwise, one phrase per kind)
    phrase   := "a " size " " colour " " shape       (one object)
              | count " " [size " "] colour " " shapes   (2-4 objects of one kind;
                                                      the size only when they share it)
    relation := "left of" | "right of" | "above" | "below"
    glyphs   := "the digit " digit " at the " corner (" and " ...)*

for example "a small red circle left of a large blue square", "two green
triangles and a small yellow cross with the digit 7 at the top right"::

    >>> d = parse("a small red circle left of a large blue square")
    >>> d.relation, [p.text for p in d.phrases]
    ('left of', ['a small red circle', 'a large blue square'])
    >>> equivalent("a small red circle left of a large blue square",
    ...            "a large blue square right of a small red circle")
    True
    >>> for n in hard_negatives("a small red circle left of a large blue square"):
    ...     print(f"{n.swap:9}{n.caption}")
    relation a large blue square left of a small red circle
    colour   a small blue circle left of a large red square
    size     a large red circle left of a small blue square
    shape    a small red square left of a large blue circle

``hard_negatives`` rearranges the *same words* so that the sentence is false:
the two sides of a relation swapped, or two objects' colours (sizes, shapes,
digits) swapped. A model that reads a caption as a bag of words cannot tell
them from the truth (Yuksekgonul et al., 2023, "When and why vision-language
models behave like bags-of-words, and what to do about it").

``questions`` derives questions with their answers from the same data, one
kind per question (``QUESTION_KINDS``).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, replace
from typing import NamedTuple

from .glyphs import DIGITS
from .scenes import CORNERS, MAX_OBJECTS, RELATIONS, SCENE_SHAPES, SIZE_FRACTIONS, Scene, relation
from .shapes import COLOURS

COUNT_WORDS: dict[int, str] = {1: "a", 2: "two", 3: "three", 4: "four"}
NUMBER_ANSWERS: dict[int, str] = {1: "one", 2: "two", 3: "three", 4: "four"}
PLURALS: dict[str, str] = {
    "circle": "circles", "square": "squares", "triangle": "triangles", "cross": "crosses", "diamond": "diamonds",
}
QUESTION_KINDS: tuple[str, ...] = ("count", "colour", "shape", "size", "relation", "glyph")
# What a caption word can state about the image (``Description.tagged``); every other word is fixed by the grammar.
CAPTION_SLOTS: tuple[str, ...] = ("colour", "shape", "size", "count", "relation", "digit")
EXAMPLE = "a small red circle left of a large blue square with the digit 7 at the top left"
# Relations in canonical direction: "b right of a" is said "a left of b".
_OPPOSITE = {"right of": "left of", "below": "above"}


@dataclass(frozen=True)
class Phrase:
    """``count`` objects of one colour and shape; ``size`` is None when they differ in size."""

    count: int
    size: str | None
    colour: str
    shape: str

    @property
    def text(self) -> str:
        return " ".join(word for word, _ in self.tagged)

    @property
    def tagged(self) -> list[tuple[str, str | None]]:
        """The phrase's words, each with the ``CAPTION_SLOTS`` entry it states (None: the article)."""
        if self.count == 1:
            return [("a", None), (self.size, "size"), (self.colour, "colour"), (self.shape, "shape")]
        size = [(self.size, "size")] if self.size else []
        return [(COUNT_WORDS[self.count], "count"), *size, (self.colour, "colour"), (PLURALS[self.shape], "shape")]


@dataclass(frozen=True)
class Description:
    """What a caption says: its phrases, the relation between two of them, and the glyphs.

    With a ``relation``, the caption reads ``phrases[0] relation phrases[1]``;
    ``glyphs`` holds ``(digit, corner)`` pairs.
    """

    phrases: tuple[Phrase, ...]
    relation: str | None = None
    glyphs: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        return " ".join(word for word, _ in self.tagged)

    @property
    def tagged(self) -> list[tuple[str, str | None]]:
        """The caption's words in order, each with the ``CAPTION_SLOTS`` entry it states, or None for a word
        the grammar fixes ("and", "of", "the digit", a digit's corner "at the top left")."""
        if self.relation:
            first, *rest = self.relation.split()
            words = self.phrases[0].tagged + [(first, "relation")] + [(w, None) for w in rest] + self.phrases[1].tagged
        else:
            words = list(self.phrases[0].tagged)
            for phrase in self.phrases[1:]:
                words += [("and", None)] + phrase.tagged
        for k, (digit, corner) in enumerate(self.glyphs):
            words += [("with" if k == 0 else "and", None), ("the", None), ("digit", None), (digit, "digit"),
                      ("at", None), ("the", None)] + [(w, None) for w in corner.split()]
        return words

    def normalised(self) -> Description:
        """The same meaning in one fixed form: relation "left of"/"above", lists sorted."""
        phrases, rel = self.phrases, self.relation
        if rel in _OPPOSITE:
            phrases, rel = phrases[::-1], _OPPOSITE[rel]
        elif rel is None:
            phrases = tuple(sorted(phrases, key=lambda p: (p.shape, p.colour, p.count, p.size or "")))
        return Description(phrases, rel, tuple(sorted(self.glyphs, key=lambda g: CORNERS.index(g[1]))))


# ------------------------------------------------------------------ scene -> words
def describe(scene: Scene, with_glyphs: bool = True) -> Description:
    """The description of ``scene`` that ``caption`` reads out.

    Objects are grouped by kind (colour, shape) in order of first appearance;
    a scene of exactly two objects of two kinds is said with their relation,
    the first object first.
    """
    groups: dict[tuple[str, str], list] = {}
    for obj in scene.objects:
        groups.setdefault(obj.kind, []).append(obj)
    phrases = tuple(
        Phrase(len(objs), objs[0].size if len({o.size for o in objs}) == 1 else None, colour, shape)
        for (colour, shape), objs in groups.items()
    )
    rel = None
    if len(scene.objects) == 2 and len(phrases) == 2:
        rel = relation(scene.objects[0], scene.objects[1])
    glyphs = ()
    if with_glyphs:
        glyphs = tuple((g.char, g.corner) for g in sorted(scene.glyphs, key=lambda g: CORNERS.index(g.corner)))
    return Description(phrases, rel, glyphs)


def caption(scene: Scene, with_glyphs: bool = True) -> str:
    """The caption of ``scene`` (``with_glyphs=False`` leaves out the digits)."""
    return describe(scene, with_glyphs).text


# ------------------------------------------------------------------ words -> meaning
def parse(text: str) -> Description:
    """What ``text`` says, if it is a caption of the grammar; otherwise a ``ValueError`` saying why."""
    if not isinstance(text, str):
        raise TypeError(f"caption must be a str, got {type(text).__name__}")
    words = text.split()
    if words.count("with") > 1:
        _reject(text, "'with' may appear once, before the digits")
    if "with" in words:
        k = words.index("with")
        words, glyph_words = words[:k], words[k + 1:]
    else:
        glyph_words = []
    chunks = _split(words, "and")
    if len(chunks) == 1:
        phrases, rel = _parse_relation(chunks[0], text)
    else:
        phrases, rel = tuple(_parse_phrase(c, text) for c in chunks), None
    kinds = [(p.colour, p.shape) for p in phrases]
    if len(set(kinds)) != len(kinds):
        _reject(text, "each colour-shape kind is named once, with its count ('two red circles')")
    if sum(p.count for p in phrases) > MAX_OBJECTS:
        _reject(text, f"a scene holds at most {MAX_OBJECTS} objects")
    glyphs = tuple(_parse_glyph(c, text) for c in _split(glyph_words, "and")) if glyph_words else ()
    if len({corner for _, corner in glyphs}) != len(glyphs):
        _reject(text, "each corner holds at most one digit")
    return Description(phrases, rel, glyphs)


def equivalent(a: str, b: str) -> bool:
    """Whether two captions say the same thing ("A left of B" is "B right of A")."""
    return parse(a).normalised() == parse(b).normalised()


def _parse_relation(words: list[str], text: str):
    spots = [i for i, w in enumerate(words) if w in ("above", "below")
             or (w in ("left", "right") and words[i + 1:i + 2] == ["of"])]
    if not spots:
        return (_parse_phrase(words, text),), None
    if len(spots) > 1:
        _reject(text, "a relation joins exactly two objects")
    i = spots[0]
    rel_len = 1 if words[i] in ("above", "below") else 2
    rel = " ".join(words[i:i + rel_len])
    first, second = _parse_phrase(words[:i], text), _parse_phrase(words[i + rel_len:], text)
    if first.count != 1 or second.count != 1:
        _reject(text, f"'{rel}' joins two single objects ('a ... {rel} a ...')")
    return (first, second), rel


def _parse_phrase(words: list[str], text: str) -> Phrase:
    counts = {w: n for n, w in COUNT_WORDS.items()}
    if not words or words[0] not in counts:
        got = " ".join(words)
        _reject(text, f"an object phrase starts with one of {list(counts)}, got {got!r}")
    count, rest = counts[words[0]], list(words[1:])
    size = rest.pop(0) if rest and rest[0] in SIZE_FRACTIONS else None
    if len(rest) != 2:
        _reject(text, f"expected '<colour> <shape>' after {' '.join(words[:len(words) - len(rest)])!r}, "
                      f"got {' '.join(rest)!r}")
    colour, noun = rest
    if colour not in COLOURS:
        _reject(text, f"unknown colour {colour!r}; colours are {list(COLOURS)}")
    nouns = {s: s for s in SCENE_SHAPES} if count == 1 else {p: s for s, p in PLURALS.items()}
    if noun not in nouns:
        form = "singular" if count == 1 else "plural"
        _reject(text, f"expected a {form} shape after {words[0]!r}, got {noun!r}; shapes are {list(nouns)}")
    if count == 1 and size is None:
        _reject(text, f"a single object is named with its size ('a small {colour} {noun}')")
    return Phrase(count, size, colour, nouns[noun])


def _parse_glyph(words: list[str], text: str) -> tuple[str, str]:
    corner = " ".join(words[5:])
    if words[:2] != ["the", "digit"] or len(words) < 6 or words[2] not in DIGITS \
            or words[3:5] != ["at", "the"] or corner not in CORNERS:
        _reject(text, f"a digit is named as 'the digit <0-9> at the <corner>' with a corner in {list(CORNERS)}, "
                      f"got {' '.join(words)!r}")
    return (words[2], corner)


def _split(words: list[str], sep: str) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    for w in words:
        if w == sep:
            chunks.append([])
        else:
            chunks[-1].append(w)
    return chunks


def _reject(text: str, why: str):
    raise ValueError(f"caption {text!r} is outside the grammar: {why}. Captions look like {EXAMPLE!r}")


# ------------------------------------------------------------------ hard negatives
class Negative(NamedTuple):
    """A false caption made of the true caption's words: ``swap`` says what was swapped."""

    swap: str  # "relation", "colour", "size", "shape" or "digit"
    caption: str


def hard_negatives(text: str) -> list[Negative]:
    """Every false caption made by one swap of ``text``'s words, in a fixed order.

    The swaps: the two sides of a relation; the colours, sizes or shapes of
    two phrases (shapes only between phrases of the same number, so that the
    words stay the same); the digits of two corners. Swaps that give the same
    meaning back (two red objects swapping colours) are left out, so every
    negative is false for a scene that ``text`` describes.
    """
    d = parse(text)
    candidates: list[tuple[str, Description]] = []
    if d.relation:
        candidates.append(("relation", replace(d, phrases=d.phrases[::-1])))
    for i, j in itertools.combinations(range(len(d.phrases)), 2):
        a, b = d.phrases[i], d.phrases[j]
        for field in ("colour", "size", "shape"):
            if field == "size" and (a.size is None or b.size is None):
                continue
            if field == "shape" and (a.count == 1) != (b.count == 1):
                continue
            phrases = list(d.phrases)
            phrases[i] = replace(a, **{field: getattr(b, field)})
            phrases[j] = replace(b, **{field: getattr(a, field)})
            candidates.append((field, replace(d, phrases=tuple(phrases))))
    for i, j in itertools.combinations(range(len(d.glyphs)), 2):
        glyphs = list(d.glyphs)
        glyphs[i], glyphs[j] = (d.glyphs[j][0], d.glyphs[i][1]), (d.glyphs[i][0], d.glyphs[j][1])
        candidates.append(("digit", replace(d, glyphs=tuple(glyphs))))

    truth, words = d.normalised(), Counter(text.split())
    negatives: list[Negative] = []
    seen = {text}
    for swap, cand in candidates:
        if cand.text in seen or Counter(cand.text.split()) != words:
            continue
        seen.add(cand.text)
        try:
            if parse(cand.text).normalised() == truth:
                continue
        except ValueError:  # e.g. a swap that names one kind twice
            continue
        negatives.append(Negative(swap, cand.text))
    return negatives


# ------------------------------------------------------------------ questions
@dataclass(frozen=True)
class Question:
    """A question about a scene, its answer, and its kind (one of ``QUESTION_KINDS``)."""

    kind: str
    text: str
    answer: str


def questions(scene: Scene) -> list[Question]:
    """Questions about ``scene`` with their answers, in a fixed order.

    Kinds: ``count`` ("how many objects?", and "how many circles?" for each
    shape present), ``colour`` ("what colour is the square?", when there is
    one square), ``shape`` ("what shape is the red object?", when one object
    is red), ``size`` ("what size is the red square?", when there is one red
    square), ``relation`` ("what is left of the triangle?", when there is one
    triangle and exactly one object stands in that relation to it), ``glyph``
    ("what digit is at the bottom right?"). A question is asked only where
    its "the" picks out one object, so every answer is unambiguous. Answers
    are one or two words ("red", "two", "blue square").
    """
    objs = scene.objects
    shapes = Counter(o.shape for o in objs)
    colours = Counter(o.colour for o in objs)
    kinds = Counter(o.kind for o in objs)
    qs = [Question("count", "how many objects?", NUMBER_ANSWERS[len(objs)])]
    qs += [Question("count", f"how many {PLURALS[s]}?", NUMBER_ANSWERS[shapes[s]])
           for s in SCENE_SHAPES if shapes[s]]
    qs += [Question("colour", f"what colour is the {o.shape}?", o.colour) for o in objs if shapes[o.shape] == 1]
    qs += [Question("shape", f"what shape is the {o.colour} object?", o.shape) for o in objs if colours[o.colour] == 1]
    qs += [Question("size", f"what size is the {o.colour} {o.shape}?", o.size) for o in objs if kinds[o.kind] == 1]
    for b in objs:
        if shapes[b.shape] != 1:
            continue
        for rel in RELATIONS:
            found = [a for a in objs if a is not b and relation(a, b) == rel]
            if len(found) == 1:
                qs.append(Question("relation", f"what is {rel} the {b.shape}?", f"{found[0].colour} {found[0].shape}"))
    qs += [Question("glyph", f"what digit is at the {g.corner}?", g.char)
           for g in sorted(scene.glyphs, key=lambda g: CORNERS.index(g.corner))]
    return qs


def words() -> list[str]:
    """Every word of every caption, question and answer, sorted; a question mark is a word of its own."""
    vocab = set(COUNT_WORDS.values()) | set(NUMBER_ANSWERS.values()) | set(SIZE_FRACTIONS) | set(COLOURS)
    vocab |= set(SCENE_SHAPES) | set(PLURALS.values()) | set(DIGITS) | {"?", "and", "with", "object", "objects"}
    vocab |= {w for phrase in RELATIONS + CORNERS for w in phrase.split()}
    vocab |= set("the digit at how many what colour is shape size".split())
    return sorted(vocab)
