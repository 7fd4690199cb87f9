"""The language of ShapesWorld 2: captions parse back, hard negatives are false, questions are typed."""

import doctest
import re
from collections import Counter

import pytest

from vlmlab import grammar
from vlmlab.grammar import (
    QUESTION_KINDS,
    Description,
    Phrase,
    caption,
    describe,
    equivalent,
    hard_negatives,
    parse,
    questions,
    words,
)
from vlmlab.scenes import SceneWorld


@pytest.fixture(scope="module")
def scenes():
    return SceneWorld(max_glyphs=3).sample_scenes(600, seed=8, split="all")


def test_caption_examples():
    d = Description((Phrase(2, None, "green", "triangle"), Phrase(1, "small", "yellow", "cross")),
                    None, (("7", "top right"),))
    assert d.text == "two green triangles and a small yellow cross with the digit 7 at the top right"
    assert Phrase(3, "large", "red", "cross").text == "three large red crosses"
    assert parse(d.text) == d


def test_tagged_words_are_the_caption_and_name_what_each_word_states():
    d = parse("a small red circle left of a large blue square with the digit 7 at the top left and the digit 3 at the bottom right")
    assert d.tagged == [
        ("a", None), ("small", "size"), ("red", "colour"), ("circle", "shape"), ("left", "relation"), ("of", None),
        ("a", None), ("large", "size"), ("blue", "colour"), ("square", "shape"),
        ("with", None), ("the", None), ("digit", None), ("7", "digit"), ("at", None), ("the", None), ("top", None),
        ("left", None),  # a corner's "left" is fixed by the question of which corner, not by the image
        ("and", None), ("the", None), ("digit", None), ("3", "digit"), ("at", None), ("the", None), ("bottom", None),
        ("right", None),
    ]
    listed = parse("two large green crosses and two yellow diamonds").tagged   # the size only when shared
    assert [slot for _, slot in listed] == ["count", "size", "colour", "shape", None, "count", "colour", "shape"]


def test_tagged_words_spell_every_caption_with_known_slots(scenes):
    for scene in scenes:
        tagged = describe(scene).tagged
        assert " ".join(w for w, _ in tagged) == caption(scene)
        assert {slot for _, slot in tagged} <= set(grammar.CAPTION_SLOTS) | {None}


def test_captions_parse_back_to_their_scene(scenes):
    for scene in scenes:
        text = caption(scene)
        assert parse(text) == describe(scene)
        assert parse(text).text == text
        assert "with" not in caption(scene, with_glyphs=False)
    forms = Counter("relation" if describe(s).relation else "list" for s in scenes if len(s.objects) > 1)
    assert forms["relation"] > 50 and forms["list"] > 50
    assert any(re.match(r"(two|three|four) ", caption(s)) for s in scenes)  # counts occur


def test_equivalent_knows_direction_and_order():
    assert equivalent("a small red circle above a large blue square", "a large blue square below a small red circle")
    assert equivalent("a small red circle and two blue squares", "two blue squares and a small red circle")
    assert not equivalent("a small red circle above a large blue square", "a large blue square above a small red circle")
    assert not equivalent("a small red circle left of a large blue square", "a small red circle above a large blue square")


def test_hard_negatives_by_hand():
    assert hard_negatives("two red circles and a small blue square with the digit 1 at the top left "
                          "and the digit 9 at the bottom right") == [
        ("colour", "two blue circles and a small red square with the digit 1 at the top left "
                   "and the digit 9 at the bottom right"),
        ("digit", "two red circles and a small blue square with the digit 9 at the top left "
                  "and the digit 1 at the bottom right"),
    ]
    # Swapping two objects of one colour changes nothing, so there is no colour negative here.
    assert [n.swap for n in hard_negatives("a small red circle above a large red square")] == ["relation", "size", "shape"]
    assert hard_negatives("three small green diamonds") == []


def test_hard_negatives_use_the_same_words_and_are_false(scenes):
    swaps = Counter()
    for scene in scenes:
        text = caption(scene)
        negatives = hard_negatives(text)
        assert len({n.caption for n in negatives}) == len(negatives)
        for swap, negative in negatives:
            swaps[swap] += 1
            assert negative != text
            assert Counter(negative.split()) == Counter(text.split())  # a bag of words cannot tell them apart
            assert not equivalent(negative, text)  # and the scene says otherwise
        if describe(scene).relation:
            assert negatives[0].swap == "relation"
    assert set(swaps) == {"relation", "colour", "size", "shape", "digit"}


@pytest.mark.parametrize(
    "text, match",
    [
        ("a photo of a cat", r"expected '<colour> <shape>' after 'a', got 'photo of a cat'"),
        ("a red circle", r"a single object is named with its size \('a small red circle'\)"),
        ("a small pink circle", r"unknown colour 'pink'; colours are \['red'"),
        ("two small red circle", r"expected a plural shape after 'two', got 'circle'"),
        ("a small red circles", r"expected a singular shape after 'a', got 'circles'"),
        ("five red circles", r"an object phrase starts with one of \['a', 'two', 'three', 'four'\], got 'five red circles'"),
        ("four red circles and a small blue square", r"a scene holds at most 4 objects"),
        ("a small red circle left of two blue squares", r"'left of' joins two single objects"),
        ("a small red circle left of a large blue square above a small green cross", r"a relation joins exactly two objects"),
        ("a small red circle and a large red circle", r"each colour-shape kind is named once"),
        ("a small red circle with the digit 12 at the top left", r"a digit is named as 'the digit <0-9> at the <corner>'"),
        ("a small red circle with the digit 1 at the middle", r"a digit is named as 'the digit <0-9> at the <corner>'"),
        ("a small red circle with the digit 1 at the top left and the digit 2 at the top left",
         r"each corner holds at most one digit"),
        ("", r"an object phrase starts with one of"),
    ],
)
def test_parse_rejects_what_the_grammar_cannot_say(text, match):
    with pytest.raises(ValueError, match=r"caption .* is outside the grammar: " + match):
        parse(text)


def test_parse_wants_a_string():
    with pytest.raises(TypeError, match="caption must be a str, got int"):
        parse(3)


def test_every_word_is_in_the_vocabulary(scenes):
    vocab = set(words())
    used = set()
    for scene in scenes:
        texts = [caption(scene)] + [t for q in questions(scene) for t in (q.text, q.answer)]
        for t in texts:
            used |= set(t.replace("?", " ?").split())
    assert used <= vocab
    assert vocab - used <= {"four"} | {"three"}  # rare count words may not occur in 600 scenes
    assert "?" in vocab and "circles?" not in vocab


def test_questions_have_a_kind_and_unambiguous_answers(scenes):
    seen = Counter()
    for scene in scenes:
        qs = questions(scene)
        assert len({q.text for q in qs}) == len(qs)  # one answer per question
        for q in qs:
            assert q.kind in QUESTION_KINDS and q.text.endswith("?")
            seen[q.kind] += 1
    assert set(seen) == set(QUESTION_KINDS)


def test_docstring_examples_run():
    result = doctest.testmod(grammar, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
