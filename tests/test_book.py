"""`make book`: executed pages that show every widget's last picture and load nothing from the network."""

import re
from html.parser import HTMLParser

import pytest

from vlmlab import nbtools


def _widget_notebook(path):
    """A tiny course notebook: title, objectives, minutes, a formula, and two widgets that draw figures."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[
        new_markdown_cell("# 98 · Widgets in the book\n\nIntro.\n\n**You will learn**\n"
                          "- to draw `sin(k x)`;\n- to move a slider,\n  and see the figure change.\n\n**Time:** 5 minutes."),
        new_markdown_cell("The wave is $\\sin(k x)$, and `$HOME` is not a formula; neither is $5 or $10."),
        new_code_cell(
            "import ipywidgets as widgets\n"
            "import matplotlib.pyplot as plt\n"
            "import numpy as np\n\n"
            "def wave(k=3):\n"
            "    x = np.linspace(0, 2 * np.pi, 50)\n"
            "    fig, ax = plt.subplots(figsize=(3, 2))\n"
            "    ax.plot(x, np.sin(k * x))\n"
            "    plt.show()\n\n"
            "w = widgets.interactive(wave, k=widgets.IntSlider(value=3, min=1, max=8, description='k'))\n"
            "w"),
        new_code_cell("w.children[0].value = 5  # the book shows the last picture: k = 5"),
        new_code_cell(
            "from vlmlab.widgets import render_into\n"
            "out = widgets.Output()\n"
            "choice = widgets.Dropdown(options=['red', 'blue'], value='blue', description='colour')\n"
            "def draw():\n"
            "    fig, ax = plt.subplots(figsize=(2, 2))\n"
            "    ax.bar([0], [1], color=choice.value)\n"
            "    return fig\n"
            "render_into(out, draw)\n"
            "widgets.VBox([choice, out])"),
    ])
    nb.metadata["vlmlab"] = {"minutes": 5}
    nbformat.write(nb, path)


class _Page(HTMLParser):
    """Collects external script/link/img addresses, images, and the page title."""

    def __init__(self):
        super().__init__()
        self.external, self.images, self.image_attrs, self.title, self._in_title = [], [], [], "", False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if tag in ("script", "link", "img", "iframe") and re.match(r"(https?:)?//", value):
                self.external.append(f"<{tag} {key}={value}>")
        if tag == "img":
            self.images.append(attrs.get("src", ""))
            self.image_attrs.append(attrs)
        self._in_title = tag == "title"

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag):
        self._in_title = False


def _parse(text):
    page = _Page()
    page.feed(text)
    return page


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("book")
    source = folder / "98_widgets.ipynb"
    _widget_notebook(source)
    index = nbtools.book([source], out=folder / "book", timeout=120)
    return index, (folder / "book" / "98_widgets.html").read_text(encoding="utf-8")


def test_the_page_loads_nothing_from_the_network(built):
    _, html = built
    assert _parse(html).external == []
    assert "require.js" not in html and "mathjax" not in html.lower() and "unpkg" not in html


def test_each_widget_shows_its_last_picture(built):
    _, html = built
    assert nbtools.WIDGET_VIEW not in html and "widget-state+json" not in html
    pngs = [src for src in _parse(html).images if src.startswith("data:image/png;base64,")]
    assert len(pngs) == 2  # one figure per widget, nothing else draws
    assert '<p class="vlmlab-widget-state">k 5</p>' in html  # the slider as it was last set
    assert '<p class="vlmlab-widget-state">colour blue</p>' in html


def test_formulas_are_images_and_code_is_left_alone(built):
    _, html = built
    formulas = [a for a in _parse(html).image_attrs if a.get("class") == "vlmlab-math"]
    assert [a["alt"] for a in formulas] == ["\\sin(k x)"]
    assert formulas[0]["src"].startswith("data:image/svg+xml;base64,")
    assert "$HOME" in html and "$5 or $10" in html


def test_the_page_is_titled_by_its_notebook(built):
    _, html = built
    assert _parse(html).title == "98 · Widgets in the book · vlmlab"


def test_the_index_is_the_course_map(built):
    index, _ = built
    text = index.read_text(encoding="utf-8")
    assert _parse(text).external == []
    row = re.search(r"<tr><td class=\"num\">98</td>(.*?)</tr>", text, re.S).group(1)
    assert '<a href="98_widgets.html">Widgets in the book</a>' in row
    assert "<code>sin(k x)</code>" in row and "to move a slider, and see the figure change." in row
    assert '<td class="min">5</td>' in row


@pytest.mark.parametrize("markdown, bullets", [
    ("# T\n\n**You will learn to**\n- a;\n- b.\n\n**Prerequisites:** none.", ["a;", "b."]),
    ("# T\n\n**In this notebook you will**\n- a,\n  continued;\n- b.\n", ["a, continued;", "b."]),
    ("# T\n\nNo list here.", []),
])
def test_learning_objectives_come_from_the_first_cell(markdown, bullets):
    nb = {"cells": [{"cell_type": "markdown", "source": markdown, "metadata": {}}]}
    assert nbtools.learning_objectives(nb) == bullets
    assert nbtools.notebook_title(nb) == "T"


def test_each_edition_links_to_the_other(tmp_path):
    """A Korean notebook in ko/ gets Korean navigation and links to its English page, and back."""
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    (tmp_path / "ko").mkdir()
    for folder, header in [(tmp_path, "# 97 · Links\n\n**You will learn**\n- one thing.\n\n**Time:** about 1 minutes."),
                           (tmp_path / "ko", "# 97 · 링크\n\n**배울 내용**\n- 한 가지.\n\n**시간:** 약 1분.")]:
        nb = new_notebook(cells=[new_markdown_cell(header)])
        nb.metadata["vlmlab"] = {"minutes": 1}
        nbformat.write(nb, folder / "97_links.ipynb")
    out = tmp_path / "book"
    english = nbtools.book([tmp_path / "97_links.ipynb"], out=out, timeout=120)
    korean = nbtools.book([tmp_path / "ko" / "97_links.ipynb"], out=out / "ko", timeout=120)
    page = (out / "97_links.html").read_text(encoding="utf-8")
    page_ko = (out / "ko" / "97_links.html").read_text(encoding="utf-8")
    assert '<a class="vlmlab-edition" href="ko/97_links.html">한국어</a>' in page
    assert '<a class="vlmlab-edition" href="../97_links.html">English</a>' in page_ko and "코스 지도" in page_ko
    assert '<html lang="ko">' in page_ko and '<html lang="en">' in page
    assert '<a class="vlmlab-edition" href="ko/index.html">' in english.read_text(encoding="utf-8")
    index_ko = korean.read_text(encoding="utf-8")
    assert '<a class="vlmlab-edition" href="../index.html">English</a>' in index_ko
    assert "<li>한 가지.</li>" in index_ko  # the learning objectives, found under "배울 내용"
    assert "노트북 1개, 모두 합쳐 약 1분." in index_ko
