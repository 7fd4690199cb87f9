"""ShapesWorld: a synthetic world of coloured shapes with captions.

The toy CLIP (``vlmlab.toyclip``) is trained on this world, so that every
notebook has a CLIP whose "semantics" we control completely and that works
offline. One image holds one shape on a light-grey background; its caption
names the shape's size, colour, kind and position::

    >>> world = ShapesWorld()
    >>> len(world.captions())
    240
    >>> images, captions = world.sample(2, seed=0)
    >>> images[0].size, captions[0]          # doctest: +SKIP
    ((64, 64), 'a large purple square at the top right')

This is the simple world of the first notebooks. ``vlmlab.scenes`` builds the
richer one on the same palette (ShapesWorld 2: several objects per scene,
small digits, a held-out split), and ``vlmlab.grammar`` its language
(relations and counts in the captions, hard negatives, questions).

Everything is reproducible: ``sample(n, seed)`` draws the same images and
captions for the same seed, and the training run of ``vlmlab.toyclip`` uses
seeds that ``evaluate`` never uses (see ``TRAIN_SEED_BASE`` and
``EVAL_SEED`` there).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ._validate import as_float_in_range, as_positive_int, as_seed

# Colours far apart in RGB so that a 64-pixel image shows them plainly.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (40, 70, 220),
    "yellow": (235, 200, 20),
    "purple": (140, 40, 170),
    "orange": (245, 120, 20),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross")
# Position name -> centre as fractions of (height, width).
POSITIONS: dict[str, tuple[float, float]] = {
    "top left": (0.25, 0.25),
    "top right": (0.25, 0.75),
    "center": (0.5, 0.5),
    "bottom left": (0.75, 0.25),
    "bottom right": (0.75, 0.75),
}
# Size name -> half-extent (radius) as a fraction of the image side.
SIZES: dict[str, float] = {"small": 0.11, "large": 0.2}
BACKGROUND = (235, 235, 235)


@dataclass(frozen=True)
class Scene:
    """One scene of the world: the four attributes that its caption names."""

    size: str
    colour: str
    shape: str
    position: str

    @property
    def caption(self) -> str:
        where = "in the center" if self.position == "center" else f"at the {self.position}"
        return f"a {self.size} {self.colour} {self.shape} {where}"


class ShapesWorld:
    """Images of one coloured shape on a plain background, with captions.

    Args:
        image_size: side of the square images in pixels (default 64).
        jitter: how far (fraction of the image side) the centre may move from
            its nominal position, uniform in ``[-jitter, jitter]`` on each axis;
            the size (radius) changes by a factor ``1 + 2 * u`` with ``u``
            uniform in the same range, so by up to ``±2 * jitter`` relative.
        background_noise: standard deviation (0–255 scale) of a faint
            per-image change of the background grey, so that the background
            is not one constant the model can lean on.

    Attributes ``colours``, ``shapes``, ``positions`` and ``sizes`` list the
    values of each attribute; the world has every combination, so
    ``len(captions()) == 6 * 4 * 5 * 2 == 240`` with the defaults.
    """

    def __init__(self, image_size: int = 64, jitter: float = 0.05, background_noise: float = 6.0):
        self.image_size = as_positive_int(image_size, "image_size")
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16 pixels, got {image_size!r}")
        self.jitter = as_float_in_range(jitter, "jitter", 0, 0.1, " (a fraction of the image side)")
        self.background_noise = float(background_noise)
        self.colours = tuple(COLOURS)
        self.shapes = SHAPES
        self.positions = tuple(POSITIONS)
        self.sizes = tuple(SIZES)
        self.scenes = [
            Scene(size, colour, shape, position)
            for colour, shape, position, size in itertools.product(
                self.colours, self.shapes, self.positions, self.sizes
            )
        ]
        self._by_caption = {scene.caption: scene for scene in self.scenes}

    def __repr__(self) -> str:
        return (
            f"ShapesWorld(image_size={self.image_size}, {len(self.colours)} colours x "
            f"{len(self.shapes)} shapes x {len(self.positions)} positions x {len(self.sizes)} sizes)"
        )

    # ------------------------------------------------------------------ text
    def captions(self) -> list[str]:
        """Every caption of the world, in a fixed order (colour, shape, position, size)."""
        return [scene.caption for scene in self.scenes]

    def words(self) -> list[str]:
        """Every distinct word that a caption can contain, sorted."""
        return sorted({w for c in self.captions() for w in c.split()})

    def parse(self, caption: str) -> Scene:
        """The scene a caption describes; ``ValueError`` if it is not a caption of this world."""
        try:
            return self._by_caption[caption]
        except (KeyError, TypeError):
            raise ValueError(
                f"caption {caption!r} is not in this world; captions look like "
                f"{self.captions()[0]!r} (see ShapesWorld.captions())"
            ) from None

    # ---------------------------------------------------------------- images
    def render(self, scene: Scene | str, rng: np.random.Generator | int | None = None):
        """Draw one scene (or caption) as an RGB PIL image, with jitter from ``rng``.

        ``rng=None`` draws the nominal scene without jitter.
        """
        from PIL import Image, ImageDraw

        if isinstance(scene, str):
            scene = self.parse(scene)
        if not isinstance(scene, Scene):
            raise TypeError(f"scene must be a Scene or a caption string, got {type(scene).__name__}")
        if rng is not None and not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        s = self.image_size
        if rng is None:
            dy = dx = dr = 0.0
            grey = BACKGROUND
        else:
            dy, dx, dr = rng.uniform(-self.jitter, self.jitter, size=3)
            shift = int(round(rng.normal(0.0, self.background_noise)))
            grey = tuple(int(np.clip(c + shift, 0, 255)) for c in BACKGROUND)
        fy, fx = POSITIONS[scene.position]
        cy, cx = (fy + dy) * s, (fx + dx) * s
        r = SIZES[scene.size] * (1.0 + 2.0 * dr) * s
        colour = COLOURS[scene.colour]

        image = Image.new("RGB", (s, s), grey)
        draw = ImageDraw.Draw(image)
        if scene.shape == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        elif scene.shape == "square":
            h = r * 0.85  # same area scale as the circle, roughly
            draw.rectangle([cx - h, cy - h, cx + h, cy + h], fill=colour)
        elif scene.shape == "triangle":
            pts = [
                (cx + r * math.cos(a), cy - r * math.sin(a))
                for a in (math.pi / 2, math.pi / 2 + 2 * math.pi / 3, math.pi / 2 + 4 * math.pi / 3)
            ]
            draw.polygon(pts, fill=colour)
        elif scene.shape == "cross":
            w = r * 0.35
            draw.rectangle([cx - r, cy - w, cx + r, cy + w], fill=colour)
            draw.rectangle([cx - w, cy - r, cx + w, cy + r], fill=colour)
        else:  # pragma: no cover - scenes come from SHAPES
            raise ValueError(f"unknown shape {scene.shape!r}")
        return image

    def sample_scenes(self, n: int, seed: int) -> list[Scene]:
        """``n`` scenes drawn uniformly from the world, reproducibly from ``seed``."""
        n = as_positive_int(n, "n")
        rng = np.random.default_rng(as_seed(seed))
        idx = rng.integers(0, len(self.scenes), size=n)
        return [self.scenes[i] for i in idx]

    def sample(self, n: int, seed: int = 0):
        """``n`` random images and their captions, the same for the same ``seed``.

        Returns:
            ``(images, captions)``: a list of ``n`` RGB PIL images of
            ``image_size`` × ``image_size`` pixels and a list of ``n`` captions.
        """
        n = as_positive_int(n, "n")
        seed = as_seed(seed)
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(self.scenes), size=n)
        scenes = [self.scenes[i] for i in idx]
        images = [self.render(scene, rng) for scene in scenes]
        return images, [scene.caption for scene in scenes]

    def sample_each(self, seed: int = 0):
        """One image of every caption (in ``captions()`` order), jittered from ``seed``."""
        rng = np.random.default_rng(as_seed(seed))
        images = [self.render(scene, rng) for scene in self.scenes]
        return images, self.captions()

