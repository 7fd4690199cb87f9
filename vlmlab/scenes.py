"""ShapesWorld 2: scenes of several coloured shapes and small digits, with their ground truth.

A scene holds 1 to 4 objects that never overlap. Each object has a colour,
a shape, a size and a place; up to four small digits ("glyphs") sit in the
corners. Everything about a scene is data (``Scene``): the objects, their
boxes ``(top, left, bottom, right)`` in pixels, the glyphs and even the
background, so ``render(scene)`` is a pure function and a question about a
scene can be answered from the data alone (``vlmlab.grammar``)::

    >>> world = SceneWorld()
    >>> images, scenes = world.sample(3, seed=1)
    >>> images.shape                       # (n, height, width, RGB), uint8
    (3, 64, 64, 3)
    >>> from vlmlab.grammar import caption
    >>> caption(scenes[0])
    'a small yellow circle below a large red circle with the digit 0 at the top left and the digit 8 at the top right'
    >>> scenes[0].objects[0].box           # (top, left, bottom, right) in pixels
    (52, 14, 61, 23)

What the world is built to teach:

* **Relations and counts.** Two objects are in a clear relation: their centres
  differ on one axis by at least ``RELATION_MARGIN`` of the canvas more than
  on the other, so "left of" or "above" is never a judgement call. Objects
  repeat a colour–shape kind often enough for "two green triangles".
* **Small text.** A glyph is 5 x 3 font pixels drawn at ``glyph_scale`` image
  pixels each, whatever the canvas: on a 256-pixel canvas a scale-1 digit is
  5 pixels tall and readable; shrunk to 64 pixels it is about one pixel and
  gone. Object sizes are fractions of the canvas, so the shapes survive the
  same shrinking. This is what high-resolution tiling exists for.
* **Generalisation.** ``HELDOUT_PAIRS`` lists colour–shape kinds that the
  ``"train"`` split never shows; the ``"heldout"`` split puts at least one in
  every scene, so "zero-shot" there means a new combination of known words.
  ``HELDOUT_RELATIONS`` does the same for what a caption says: training
  captions never make a triangle the subject of "above" (the scene is told the
  other way round, "... below a ... triangle"); the ``"heldout_relation"``
  split says exactly that.

Sizes are ``(height, width)``; every draw comes from
``numpy.random.default_rng(seed)``, so a seed gives the same scenes anywhere.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np

from ._validate import as_float_in_range, as_int_in_range, as_positive_int, as_seed, as_size, check_choice
from .glyphs import DIGITS, draw_glyph, glyph_size, read_glyph
from .shapes import BACKGROUND, COLOURS, SHAPES

SCENE_SHAPES: tuple[str, ...] = SHAPES + ("diamond",)
# Half-extent ("radius") of an object as a fraction of the canvas's shorter side.
SIZE_FRACTIONS: dict[str, float] = {"small": 0.07, "large": 0.11}
# Colour-shape kinds that the training split never shows. Each shape and each
# colour but one is held out once, so every word still appears in training.
HELDOUT_PAIRS: tuple[tuple[str, str], ...] = (
    ("red", "triangle"),
    ("green", "square"),
    ("blue", "cross"),
    ("yellow", "diamond"),
    ("purple", "circle"),
)
# (shape, relation) pairings that no training caption says: in the training
# split "a small red triangle above a large blue square" is always said as
# "a large blue square below a small red triangle".
HELDOUT_RELATIONS: tuple[tuple[str, str], ...] = (("triangle", "above"), ("circle", "left of"))
CORNERS: tuple[str, ...] = ("top left", "top right", "bottom left", "bottom right")
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
SPLITS: tuple[str, ...] = ("train", "heldout", "heldout_relation", "all")

MAX_OBJECTS = 4  # room to place four large objects at random; also the largest count a caption says
MIN_CANVAS_SIDE = 32
GLYPH_SLOT = 0.14  # side of each corner's glyph square, fraction of the shorter side
GAP = 0.03  # empty space kept around every object's box, fraction of the shorter side
RELATION_MARGIN = 0.06  # | |dy| - |dx| | between two centres, fraction of the shorter side
REPEAT_PROBABILITY = 0.2  # chance that an object copies the kind of an earlier one
INK = (25, 25, 25)  # glyph colour: darker than any shape or clutter


@dataclass(frozen=True)
class SceneObject:
    """One shape in a scene. ``centre`` is the ``(row, col)`` of its centre pixel."""

    colour: str
    shape: str
    size: str
    centre: tuple[int, int]
    radius: float  # half-extent in pixels

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` in pixels, bottom and right exclusive; holds every painted pixel."""
        return _box_around(self.centre, self.radius)

    @property
    def kind(self) -> tuple[str, str]:
        """``(colour, shape)``: what the held-out split is about."""
        return (self.colour, self.shape)


@dataclass(frozen=True)
class Glyph:
    """One digit in a corner of a scene, drawn from ``(top, left)`` at ``scale`` pixels per font pixel."""

    char: str
    corner: str
    top: int
    left: int
    scale: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` in pixels, bottom and right exclusive."""
        h, w = glyph_size(self.scale)
        return (self.top, self.left, self.top + h, self.left + w)


@dataclass(frozen=True)
class Scene:
    """Everything needed to draw a scene and to answer questions about it.

    ``clutter`` holds faint grey specks ``(top, left, bottom, right, grey)``
    drawn under the objects; ``noise`` is the standard deviation (0-255 scale)
    of per-pixel noise drawn from ``noise_seed``.
    """

    canvas_size: tuple[int, int]
    objects: tuple[SceneObject, ...]
    glyphs: tuple[Glyph, ...] = ()
    background: tuple[int, int, int] = BACKGROUND
    clutter: tuple[tuple[int, int, int, int, int], ...] = ()
    noise: float = 0.0
    noise_seed: int = 0

    def to_dict(self) -> dict:
        """The ground truth as plain Python data (tuples, strings, numbers; JSON-ready), boxes included."""
        data = asdict(self)
        for obj, d in zip(self.objects, data["objects"]):
            d["box"] = obj.box
        for glyph, d in zip(self.glyphs, data["glyphs"]):
            d["box"] = glyph.box
        return data


def said_relation(objects) -> tuple[str, str] | None:
    """``(shape, relation)`` that a caption of ``objects`` says, e.g. ``("triangle", "above")``.

    Only a scene of exactly two objects of two kinds is captioned with a
    relation (see ``vlmlab.grammar``), the first object as its subject; for
    any other scene this is None.
    """
    if len(objects) != 2 or objects[0].kind == objects[1].kind:
        return None
    return (objects[0].shape, relation(objects[0], objects[1]))


def relation(a: SceneObject, b: SceneObject) -> str:
    """Where ``a`` is relative to ``b``: the larger of the two centre offsets decides.

    One of ``RELATIONS``; ``relation(a, b)`` and ``relation(b, a)`` are always
    opposites ("left of" / "right of", "above" / "below").
    """
    dy = a.centre[0] - b.centre[0]
    dx = a.centre[1] - b.centre[1]
    if abs(dx) >= abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


class SceneWorld:
    """Scenes of 1 to ``max_objects`` shapes and up to ``max_glyphs`` corner digits.

    Args:
        canvas_size: ``(height, width)`` in pixels, or one int for a square
            (default 64; at least 32 a side).
        min_objects, max_objects: the number of objects per scene is uniform
            in ``[min_objects, max_objects]``, at most ``MAX_OBJECTS``.
            ``max_objects=1`` gives the simple single-object case.
        colours, shapes: names to draw from (default: every colour of
            ``vlmlab.shapes.COLOURS`` and every shape of ``SCENE_SHAPES``).
        heldout: colour-shape pairs kept out of the ``"train"`` split
            (default: the pairs of ``HELDOUT_PAIRS`` within ``colours`` x ``shapes``).
        heldout_relations: (shape, relation) pairings that no ``"train"``
            caption says (default: those of ``HELDOUT_RELATIONS`` within ``shapes``).
        max_glyphs: digits per scene, uniform in ``[min_glyphs, max_glyphs]``, one per corner.
        glyph_scale: image pixels per font pixel; the corner squares must hold
            the glyph, so a larger scale needs a larger canvas.
        clutter: number of faint grey specks under the objects.
        noise: standard deviation of per-pixel noise (0-255 scale).
        background_noise: standard deviation of a per-scene shift of the
            background grey.
        object_scale: every object's radius is ``SIZE_FRACTIONS[size] * object_scale``
            of the shorter side (default 1); larger objects keep more of their
            outline when the canvas is shrunk for a low-resolution encoder.
            Placement must still fit ``max_objects`` of them (checked).
        glyph_cell: 0 (default): a glyph sits anywhere in its corner square.
            A pixel count such as 8: a glyph sits centred in one cell of a
            grid of ``glyph_cell``-pixel cells counted from the canvas's
            edges, a cell chosen at random among those inside the corner
            square. With a canvas side a multiple of the cell and the cell an
            encoder's patch, every glyph fills the middle of one patch of any
            tile cut on that grid, always at the same place in it.
        min_glyphs: the fewest digits per scene (default 0). ``min_glyphs=max_glyphs=4``
            puts a digit in every corner, so a question about one corner can
            only be answered by looking there: no other corner is empty.
    """

    def __init__(self, canvas_size=64, min_objects: int = 1, max_objects: int = 4,
                 colours=None, shapes=None, heldout=None, heldout_relations=None, max_glyphs: int = 2,
                 glyph_scale: int = 1, clutter: int = 0, noise: float = 0.0, background_noise: float = 6.0,
                 object_scale: float = 1.0, glyph_cell: int = 0, min_glyphs: int = 0):
        self.canvas_size = as_size(canvas_size, "canvas_size")
        side = min(self.canvas_size)
        if side < MIN_CANVAS_SIDE:
            raise ValueError(
                f"canvas_size must be at least {MIN_CANVAS_SIDE} pixels a side, got {self.canvas_size} (height, width)"
            )
        self.max_objects = as_int_in_range(
            max_objects, "max_objects", 1, MAX_OBJECTS, f" (at most {MAX_OBJECTS} objects fit without overlap)"
        )
        self.min_objects = as_int_in_range(min_objects, "min_objects", 1, self.max_objects, " (1 to max_objects)")
        self.colours = _names(colours, COLOURS, "colours")
        self.shapes = _names(shapes, SCENE_SHAPES, "shapes")
        self.heldout_pairs = self._check_heldout(heldout)
        self.heldout_relations = self._check_heldout_relations(heldout_relations)
        self.max_glyphs = as_int_in_range(max_glyphs, "max_glyphs", 0, len(CORNERS), " (one per corner)")
        self.min_glyphs = as_int_in_range(min_glyphs, "min_glyphs", 0, self.max_glyphs, " (0 to max_glyphs)")
        self.glyph_scale = as_positive_int(glyph_scale, "glyph_scale")
        self.object_scale = as_float_in_range(object_scale, "object_scale", 0.25, 4.0)
        self.glyph_cell = as_int_in_range(glyph_cell, "glyph_cell", 0, 10**4)
        self.clutter = as_int_in_range(clutter, "clutter", 0, 64)
        self.noise = as_float_in_range(noise, "noise", 0.0, 64.0)
        self.background_noise = as_float_in_range(background_noise, "background_noise", 0.0, 32.0)

        # Lengths in pixels, from the fractions above.
        self.slot = math.ceil(GLYPH_SLOT * side)
        self.gap = max(1, round(GAP * side))
        self.margin = RELATION_MARGIN * side
        if self.max_glyphs:
            self._check_glyph_fits()
        self._check_objects_fit()
        self.pairs = tuple(itertools.product(self.colours, self.shapes))
        self.train_pairs = tuple(p for p in self.pairs if p not in self.heldout_pairs)

    def __repr__(self) -> str:
        return (
            f"SceneWorld(canvas_size={self.canvas_size}, objects {self.min_objects}-{self.max_objects}, "
            f"{len(self.colours)} colours x {len(self.shapes)} shapes, {len(self.heldout_pairs)} held out, "
            + (f"{self.min_glyphs}-" if self.min_glyphs else "up to ") + f"{self.max_glyphs} glyphs at scale {self.glyph_scale}"
            + (f", objects x{self.object_scale:g}" if self.object_scale != 1 else "")
            + (f", glyphs in {self.glyph_cell}-px cells" if self.glyph_cell else "") + ")"
        )

    # ------------------------------------------------------------ checks
    def _check_heldout(self, heldout) -> tuple[tuple[str, str], ...]:
        if heldout is None:
            return tuple(p for p in HELDOUT_PAIRS if p[0] in self.colours and p[1] in self.shapes)
        pairs = []
        for pair in heldout:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise ValueError(f"heldout must hold (colour, shape) pairs, got {pair!r}")
            colour, shape = pair
            check_choice(colour, self.colours, "heldout colour")
            check_choice(shape, self.shapes, "heldout shape")
            pairs.append((colour, shape))
        if len(set(pairs)) == len(self.colours) * len(self.shapes):
            raise ValueError("heldout holds every colour-shape pair; the training split would be empty")
        return tuple(dict.fromkeys(pairs))

    def _check_heldout_relations(self, pairings) -> tuple[tuple[str, str], ...]:
        if pairings is None:
            return tuple(p for p in HELDOUT_RELATIONS if p[0] in self.shapes)
        checked = []
        for pairing in pairings:
            if not (isinstance(pairing, (tuple, list)) and len(pairing) == 2):
                raise ValueError(f"heldout_relations must hold (shape, relation) pairs, got {pairing!r}")
            checked.append((check_choice(pairing[0], self.shapes, "heldout_relations shape"),
                            check_choice(pairing[1], RELATIONS, "heldout_relations relation")))
        return tuple(dict.fromkeys(checked))

    def _check_glyph_fits(self) -> None:
        # A glyph keeps one pixel clear on each side inside its corner square (or its cell).
        need = glyph_size(self.glyph_scale)[0] + 2
        if self.glyph_cell:
            if self.glyph_cell < need:
                raise ValueError(f"glyph_cell={self.glyph_cell} is too small for glyph_scale={self.glyph_scale}: "
                                 f"a cell must hold the {glyph_size(self.glyph_scale)[0]}-pixel glyph and a clear "
                                 f"pixel on each side, at least {need} px")
            if self.glyph_cell > self.slot:
                raise ValueError(f"glyph_cell={self.glyph_cell} is larger than the corner squares of canvas "
                                 f"{self.canvas_size} ({self.slot} px): no cell fits inside one")
        if self.slot < need:
            largest = (self.slot - 2) // glyph_size(1)[0]
            smallest_side = next(s for s in itertools.count(MIN_CANVAS_SIDE) if math.ceil(GLYPH_SLOT * s) >= need)
            accepted = f"glyph_scale must be in [1, {largest}]" if largest >= 1 else "no glyph fits"
            raise ValueError(
                f"canvas_size {self.canvas_size} is too small for glyph_scale={self.glyph_scale}: {accepted} "
                f"on this canvas (corner squares of {self.slot} px); a canvas of at least {smallest_side} px "
                f"a side fits this scale, or set max_glyphs=0"
            )

    def _check_objects_fit(self) -> None:
        # The hardest layout, max_objects large objects, must be placeable: try it once with a fixed
        # seed, so a scale that cannot fit fails here with advice instead of deep inside sample().
        large = SIZE_FRACTIONS["large"] * self.object_scale * min(self.canvas_size)
        try:
            self._place(np.random.default_rng(0), [large] * self.max_objects, tries=60)
        except RuntimeError:
            raise ValueError(
                f"{self.max_objects} large objects at object_scale={self.object_scale} do not fit on canvas "
                f"{self.canvas_size} with their gaps and the corner squares; use fewer objects (max_objects) "
                f"or a smaller object_scale"
            ) from None

    # ---------------------------------------------------------- sampling
    def sample_scenes(self, n: int, seed: int, split: str = "train") -> list[Scene]:
        """``n`` scenes drawn reproducibly from ``seed``.

        ``split="train"`` never uses a held-out colour-shape pair and its
        captions never say a held-out relation pairing; ``"heldout"`` puts at
        least one held-out pair in every scene; ``"heldout_relation"`` draws
        two-object scenes (of training pairs) whose caption says a held-out
        pairing; ``"all"`` draws from every pair, with no rule on captions.
        """
        n = as_positive_int(n, "n")
        check_choice(split, SPLITS, "split")
        if split == "heldout" and not self.heldout_pairs:
            raise ValueError("split='heldout' needs held-out pairs, but this world has none (heldout=())")
        if split == "heldout_relation" and not (self.heldout_relations and self.max_objects >= 2):
            raise ValueError(
                "split='heldout_relation' needs held-out relation pairings and max_objects >= 2, got "
                f"heldout_relations={self.heldout_relations} and max_objects={self.max_objects}"
            )
        rng = np.random.default_rng(as_seed(seed))
        return [self._draw_scene(rng, split) for _ in range(n)]

    def sample(self, n: int, seed: int = 0, split: str = "train"):
        """``n`` rendered scenes: ``(images, scenes)``.

        Returns:
            images: uint8 array ``(n, height, width, 3)``, ``images[i] == render(scenes[i])``.
            scenes: the ``n`` ``Scene`` objects (the ground truth).
        """
        scenes = self.sample_scenes(n, seed, split)
        return np.stack([render(scene) for scene in scenes]), scenes

    def split_of(self, scene: Scene) -> str:
        """The split ``scene`` belongs to: ``"heldout"`` if any object has a held-out
        colour-shape pair, else ``"heldout_relation"`` if its caption says a held-out
        relation pairing, else ``"train"``."""
        if any(obj.kind in self.heldout_pairs for obj in scene.objects):
            return "heldout"
        return "heldout_relation" if said_relation(scene.objects) in self.heldout_relations else "train"

    def _draw_scene(self, rng: np.random.Generator, split: str) -> Scene:
        """One scene of ``split``; a layout whose caption breaks the split's rule on
        relation pairings is said the other way round, or drawn again. So is a draw whose
        objects found no room (rare, with large objects: the next draw has other sizes)."""
        for _ in range(1000):
            scene = self._draw_any_scene(rng, split)
            if scene is None:
                continue
            if split == "all":
                return scene
            want = split == "heldout_relation"
            for objects in (scene.objects, scene.objects[::-1]):
                if (said_relation(objects) in self.heldout_relations) == want:
                    return dataclasses.replace(scene, objects=objects)
        raise ValueError(
            f"no scene of split {split!r} found in 1000 draws: heldout_relations={self.heldout_relations} "
            f"leaves too little to draw from with these colours, shapes and held-out pairs"
        )

    def _draw_any_scene(self, rng: np.random.Generator, split: str) -> Scene | None:
        if split == "heldout_relation":
            n = 2  # the only scenes whose caption says a relation
        else:
            n = int(rng.integers(self.min_objects, self.max_objects + 1))
        kinds = self._draw_kinds(rng, n, split)
        sizes = [str(s) for s in rng.choice(tuple(SIZE_FRACTIONS), size=n)]
        radii = [SIZE_FRACTIONS[s] * self.object_scale * min(self.canvas_size) for s in sizes]
        try:
            centres = self._place(rng, radii)
        except RuntimeError:
            return None
        objects = tuple(
            SceneObject(colour, shape, size, centre, radius)
            for (colour, shape), size, centre, radius in zip(kinds, sizes, centres, radii)
        )
        glyphs = self._draw_glyphs(rng)
        shift = int(round(rng.normal(0.0, self.background_noise)))
        background = tuple(min(255, max(0, c + shift)) for c in BACKGROUND)
        clutter = self._draw_clutter(rng)
        noise_seed = int(rng.integers(2**31))
        return Scene(self.canvas_size, objects, glyphs, background, clutter, self.noise, noise_seed)

    def _draw_kinds(self, rng, n: int, split: str) -> list[tuple[str, str]]:
        pool = self.pairs if split == "all" else self.train_pairs
        kinds: list[tuple[str, str]] = []
        for i in range(n):
            if i and rng.random() < REPEAT_PROBABILITY:
                kinds.append(kinds[int(rng.integers(i))])  # a repeat: material for counts
            else:
                kinds.append(pool[int(rng.integers(len(pool)))])
        if split == "heldout":
            kinds[int(rng.integers(n))] = self.heldout_pairs[int(rng.integers(len(self.heldout_pairs)))]
        return kinds

    def _place(self, rng, radii: list[float], tries: int = 200) -> list[tuple[int, int]]:
        """Centres for objects of ``radii``: boxes inside the canvas, off the corner squares,
        ``gap`` pixels apart, and every pair in a clear relation. Rejection sampling."""
        height, width = self.canvas_size
        s = self.slot
        corners = [(0, 0, s, s), (0, width - s, s, width), (height - s, 0, height, s),
                   (height - s, width - s, height, width)]
        for _ in range(tries):  # restart the whole layout if one object finds no room
            centres: list[tuple[int, int]] = []
            boxes: list[tuple[int, int, int, int]] = []
            for r in radii:
                lo = math.ceil(r)
                for _ in range(tries):
                    c = (int(rng.integers(lo, height - lo)), int(rng.integers(lo, width - lo)))
                    box = _box_around(c, r)
                    grown = (box[0] - self.gap, box[1] - self.gap, box[2] + self.gap, box[3] + self.gap)
                    if any(_overlap(grown, other) for other in boxes + corners):
                        continue
                    if any(abs(abs(c[0] - o[0]) - abs(c[1] - o[1])) < self.margin for o in centres):
                        continue
                    centres.append(c)
                    boxes.append(box)
                    break
                else:
                    break
            if len(centres) == len(radii):
                return centres
        raise RuntimeError(f"could not place {len(radii)} objects on canvas {self.canvas_size}")

    def _draw_glyphs(self, rng) -> tuple[Glyph, ...]:
        count = int(rng.integers(self.min_glyphs, self.max_glyphs + 1))
        corners = sorted(rng.choice(len(CORNERS), size=count, replace=False))
        height, width = self.canvas_size
        gh, gw = glyph_size(self.glyph_scale)
        glyphs = []
        cell, cells = self.glyph_cell, self.slot // max(self.glyph_cell, 1)  # cells inside a corner square, a side
        for k in corners:
            corner = CORNERS[k]
            if cell:  # the centre of a random cell, counted from this corner's two edges
                cy, cx = (int(v) for v in rng.integers(0, cells, size=2))
                near_top, near_left = cy * cell + (cell - gh) // 2, cx * cell + (cell - gw) // 2
                far_top, far_left = (cy + 1) * cell - (cell - gh) // 2 - gh, (cx + 1) * cell - (cell - gw) // 2 - gw
            else:  # anywhere inside the corner square, one clear pixel on each side
                near_top = far_top = 1 + int(rng.integers(0, self.slot - gh - 1))
                near_left = far_left = 1 + int(rng.integers(0, self.slot - gw - 1))
            top = near_top if corner.startswith("top") else height - far_top - gh
            left = near_left if corner.endswith("left") else width - far_left - gw
            glyphs.append(Glyph(str(rng.choice(DIGITS)), corner, top, left, self.glyph_scale))
        return tuple(glyphs)

    def _draw_clutter(self, rng) -> tuple[tuple[int, int, int, int, int], ...]:
        height, width = self.canvas_size
        longest = max(2, round(0.04 * min(height, width)))
        specks = []
        for _ in range(self.clutter):
            h, w = (int(v) for v in rng.integers(1, longest + 1, size=2))
            top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
            specks.append((top, left, top + h, left + w, int(rng.integers(160, 216))))
        return tuple(specks)


# ------------------------------------------------------------------ drawing
def render(scene: Scene) -> np.ndarray:
    """Draw ``scene`` as a uint8 RGB array ``(height, width, 3)``; a pure function of the scene.

    Order: background, clutter, objects, glyphs (each on a small clear patch),
    then noise. Shapes are exact pixel masks (no anti-aliasing): a pixel is
    painted when its centre lies inside the shape.
    """
    if not isinstance(scene, Scene):
        raise TypeError(f"scene must be a vlmlab.scenes.Scene, got {type(scene).__name__}")
    height, width = scene.canvas_size
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = scene.background
    for top, left, bottom, right, grey in scene.clutter:
        image[top:bottom, left:right] = grey
    for obj in scene.objects:
        top, left, bottom, right = obj.box
        image[top:bottom, left:right][shape_mask(obj)] = COLOURS[obj.colour]
    for glyph in scene.glyphs:
        top, left, bottom, right = glyph.box
        image[top - 1:bottom + 1, left - 1:right + 1] = scene.background
        draw_glyph(image, glyph.char, glyph.top, glyph.left, glyph.scale, INK)
    if scene.noise > 0:
        noise = np.random.default_rng(scene.noise_seed).normal(0.0, scene.noise, size=image.shape)
        image = np.clip(image + noise, 0, 255).round().astype(np.uint8)
    return image


def shape_mask(obj: SceneObject) -> np.ndarray:
    """Bool mask ``(bottom - top, right - left)`` over ``obj.box``: True where the shape is.

    Coordinates are measured from the shape's centre, ``y`` pointing up, in
    pixels; each pixel is tested at its own centre.
    """
    top, left, bottom, right = obj.box
    cy, cx = obj.centre[0] + 0.5, obj.centre[1] + 0.5
    y = cy - (np.arange(top, bottom) + 0.5)[:, None]  # (h, 1), up is positive
    x = (np.arange(left, right) + 0.5)[None, :] - cx  # (1, w)
    r = obj.radius
    if obj.shape == "circle":
        return x * x + y * y <= r * r
    if obj.shape == "square":
        h = 0.85 * r  # about the circle's area
        return (np.abs(x) <= h) & (np.abs(y) <= h)
    if obj.shape == "diamond":
        return np.abs(x) + np.abs(y) <= r
    if obj.shape == "triangle":
        # Apex up at distance r, base at y = -r/2: inside both slanted edges and above the base.
        return (np.abs(x) * math.sqrt(3) <= r - y) & (y >= -r / 2)
    if obj.shape == "cross":
        w = 0.35 * r
        return ((np.abs(x) <= r) & (np.abs(y) <= w)) | ((np.abs(x) <= w) & (np.abs(y) <= r))
    raise ValueError(f"shape must be one of {list(SCENE_SHAPES)}, got {obj.shape!r}")


def glyph_reading_accuracy(images: np.ndarray, scenes: list[Scene], shrink_to=None) -> float:
    """Fraction of the scenes' digits that ``read_glyph`` reads from ``images``.

    Args:
        images: uint8 ``(n, height, width, 3)``, as ``SceneWorld.sample`` returns.
        scenes: the ``n`` scenes drawn in them.
        shrink_to: ``(height, width)`` (or one int): first shrink each image to
            this size and enlarge it back, as an encoder that reads a downscaled
            image would see it (PIL bilinear, which filters before shrinking).

    The reader is a nearest-template matcher, so 1.0 means every digit is
    intact, and 0.1 is chance.
    """
    from PIL import Image

    if len(images) != len(scenes):
        raise ValueError(f"images and scenes must match in number, got {len(images)} images and {len(scenes)} scenes")
    correct = total = 0
    for image, scene in zip(images, scenes):
        if shrink_to is not None:
            h, w = as_size(shrink_to, "shrink_to")
            small = Image.fromarray(image).resize((w, h), Image.BILINEAR)  # PIL sizes are (width, height)
            image = np.asarray(small.resize((image.shape[1], image.shape[0]), Image.BILINEAR))
        for glyph in scene.glyphs:
            top, left, bottom, right = glyph.box
            correct += read_glyph(image[top:bottom, left:right], glyph.scale) == glyph.char
            total += 1
    if total == 0:
        raise ValueError("the scenes hold no glyphs; sample them from a world with max_glyphs > 0")
    return correct / total


# ------------------------------------------------------------------ helpers
def _box_around(centre: tuple[int, int], radius: float) -> tuple[int, int, int, int]:
    cy, cx = centre[0] + 0.5, centre[1] + 0.5  # the centre pixel's own centre
    return (math.floor(cy - radius), math.floor(cx - radius), math.ceil(cy + radius), math.ceil(cx + radius))


def _overlap(a, b) -> bool:
    """Whether boxes ``(top, left, bottom, right)`` (bottom, right exclusive) share a pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _names(value, known, name: str) -> tuple[str, ...]:
    if value is None:
        return tuple(known)
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a list of names from {list(known)}, got {value!r}")
    for v in value:
        if v not in known:
            raise ValueError(f"{name}: unknown name {v!r}; accepted names are {list(known)}")
    if not value or len(set(value)) != len(value):
        raise ValueError(f"{name} must list at least one name, each once, from {list(known)}; got {list(value)}")
    return tuple(value)
