"""The real browser check: do the widgets render in a real JupyterLab?

nbval runs every notebook's Python, but it cannot tell whether a widget
*renders*: a missing or mismatched JupyterLab widget extension shows
"Error displaying widget" in the browser while the kernel is perfectly happy.
This test starts JupyterLab headless on a copy of the notebooks, opens one in
headless Chromium, runs all cells, waits for the widget (a slider) and its
image output, moves the slider and waits for the picture to change (a kernel
round trip), and saves a screenshot to ``build/browser/<notebook>.png``.

    make test-slow                                     # or:
    .venv/bin/python -m pytest -m slow tests/test_browser.py

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install chromium
chromium-driver``; nothing is downloaded) and selenium (in the ``dev`` extra);
skips with the reason when they are missing. Set ``VLMLAB_CHROMIUM`` /
``VLMLAB_CHROMEDRIVER`` to use other binaries.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "build" / "browser"  # git-ignored

# The harness checks itself on a tiny notebook first, so a failure on 00 means 00, not the set-up.
DEMO = "demo_widget.ipynb"
TARGETS = [DEMO, "00_start_here.ipynb"]

KERNEL_TIMEOUT = 120
RUN_TIMEOUT = 300
WIDGET_TIMEOUT = 90


def _which(env: str, *names: str) -> str | None:
    if os.environ.get(env):
        return shutil.which(os.environ[env])
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _demo_notebook(path: Path) -> None:
    """An IntSlider driving a matplotlib figure through ``ipywidgets.interactive``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Widget check\nA slider that redraws a figure."),
        nbformat.v4.new_code_cell(
            "import ipywidgets as widgets\n"
            "import matplotlib.pyplot as plt\n"
            "import numpy as np\n\n"
            "def wave(k=3):\n"
            "    x = np.linspace(0, 2 * np.pi, 200)\n"
            "    fig, ax = plt.subplots(figsize=(5, 2.5))\n"
            "    ax.plot(x, np.sin(k * x))\n"
            "    ax.set_title(f'sin({k} x)')\n"
            "    plt.show()\n\n"
            "widgets.interactive(wave, k=widgets.IntSlider(value=3, min=1, max=8, description='k'))"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _lab_settings(config_dir: Path) -> None:
    """User settings for this throwaway JupyterLab: every cell in the DOM, no news, no update checks."""
    settings = config_dir / "lab" / "user-settings" / "@jupyterlab"
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


class Lab:
    """A JupyterLab server on a free localhost port, serving ``root``; always shut down by ``stop``."""

    def __init__(self, root: Path, home: Path):
        self.root, self.port, self.token = root, _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "jupyter.log"
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)  # the test suite sets Agg; the kernel must use the inline backend
        env.pop("JUPYTER_PREFER_ENV_PATH", None)
        env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"),
            PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),  # kernel "python" = this one
            HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        )
        _lab_settings(home / "config")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
             "--LabApp.expose_app_in_browser=True",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
             *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],  # CI containers
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"jupyter lab did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.api("/api/shutdown", method="POST")  # shuts the kernels down too
                self.process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the group this test started
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def _browser(chromium: str, chromedriver: str, profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1200"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))


# JavaScript run in the page. window.jupyterapp exists because of --LabApp.expose_app_in_browser.
JS_KERNEL = """
const app = window.jupyterapp;
if (!app) return 'no app';
const dialog = document.querySelector('.jp-Dialog .jp-mod-accept');
if (dialog) { dialog.click(); return 'dialog'; }  // e.g. "Select Kernel": take the default
// The notebook in the main area (the file browser may hold the focus): activate it, so that
// notebook commands such as run-all-cells act on it.
const panel = Array.from(app.shell.widgets('main')).find(w => w.sessionContext);
if (!panel) return 'no notebook';
if (app.shell.currentWidget !== panel) app.shell.activateById(panel.id);
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
return kernel ? kernel.status : 'no kernel';
"""

JS_PROGRESS = """
const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.sessionContext);
const kernel = panel.sessionContext.session.kernel;
let pending = 0, total = 0;
const errors = [];
for (const cell of panel.content.widgets) {
  if (cell.model.type !== 'code' || cell.model.sharedModel.getSource().trim() === '') continue;
  total += 1;
  if (cell.model.executionCount === null) pending += 1;
  const outputs = cell.model.outputs;
  for (let i = 0; i < outputs.length; i++) {
    const out = outputs.get(i).toJSON();
    if (out.output_type === 'error') errors.push(out.ename + ': ' + out.evalue);
  }
}
return {pending: pending, total: total, errors: errors, status: kernel ? kernel.status : 'none'};
"""

JS_WIDGET = """
const sliders = document.querySelectorAll('.jp-Notebook .widget-slider');
const images = document.querySelectorAll('.jp-Notebook .jupyter-widgets img, .jp-Notebook .widget-output img');
const text = document.querySelector('.jp-Notebook').innerText;
return {sliders: sliders.length, images: images.length,
        first_image: images.length ? images[0].src.slice(-200) : '',
        broken: text.includes('Error displaying widget')};
"""


def _wait(what: str, probe, done, timeout: float, lab: Lab, driver):
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        value = probe()
        if done(value):
            return value
        time.sleep(0.5)
    logs = "\n".join(f"  {e['level']}: {e['message'][:300]}" for e in driver.get_log("browser")[-15:])
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last state: {value!r}\n"
                         f"browser console:\n{logs}\njupyter log:\n{lab.log_tail()}")


@pytest.mark.parametrize("notebook", TARGETS)
def test_widgets_render_in_jupyterlab(notebook, tmp_path):
    chromium = _which("VLMLAB_CHROMIUM", "chromium", "chromium-browser")
    chromedriver = _which("VLMLAB_CHROMEDRIVER", "chromedriver")
    if chromium is None or chromedriver is None:
        pytest.skip("needs Debian's chromium and chromium-driver: sudo apt-get install chromium chromium-driver")
    pytest.importorskip("selenium", reason="needs selenium: pip install -e '.[dev]'")

    # Serve a copy: JupyterLab autosaves, and the repository's notebooks must not change.
    root = tmp_path / "repo"
    notebooks = root / "notebooks"
    if notebook == DEMO:
        notebooks.mkdir(parents=True)
        _demo_notebook(notebooks / DEMO)
    else:
        shutil.copytree(REPO / "notebooks", notebooks,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        shutil.copytree(REPO / "data", root / "data", ignore=shutil.ignore_patterns("__pycache__"))

    lab = Lab(root, tmp_path)
    driver = None
    try:
        lab.wait_ready()
        driver = _browser(chromium, chromedriver, tmp_path / "chromium-profile")
        driver.get(f"{lab.url}/lab/tree/notebooks/{notebook}?token={lab.token}")

        _wait("the kernel to start", lambda: driver.execute_script(JS_KERNEL),
              lambda s: s == "idle", KERNEL_TIMEOUT, lab, driver)
        # Forget any committed execution counts, so "every cell has a count" means "every cell ran".
        driver.execute_script("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        state = _wait("all cells to run", lambda: driver.execute_script(JS_PROGRESS),
                      lambda s: s["errors"] or (s["pending"] == 0 and s["status"] == "idle"),
                      RUN_TIMEOUT, lab, driver)
        assert not state["errors"], f"{notebook} raised in the browser: {state['errors']}"
        assert state["total"] > 0

        widget = _wait("a slider widget with an image", lambda: driver.execute_script(JS_WIDGET),
                       lambda s: s["broken"] or (s["sliders"] and s["images"]), WIDGET_TIMEOUT, lab, driver)
        assert not widget["broken"], f"{notebook}: JupyterLab shows 'Error displaying widget'"

        # Move the first slider one step with the keyboard: the kernel must redraw the figure.
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        handle = driver.find_element(By.CSS_SELECTOR, ".jp-Notebook .widget-slider .noUi-handle")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
        handle.click()
        handle.send_keys(Keys.ARROW_RIGHT)
        _wait("the figure to change after moving the slider", lambda: driver.execute_script(JS_WIDGET),
              lambda s: s["images"] and s["first_image"] != widget["first_image"], WIDGET_TIMEOUT, lab, driver)
        assert not driver.execute_script(JS_WIDGET)["broken"]

        # Screenshot the widget's whole output: its top at the top of the window.
        driver.execute_script("arguments[0].closest('.jp-Cell').scrollIntoView({block: 'start'});", handle)
        time.sleep(1)  # let the new image paint before the screenshot
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{Path(notebook).stem}.png"
        assert driver.save_screenshot(str(shot)), f"could not write {shot}"
    finally:
        if driver is not None:
            driver.quit()
        lab.stop()
    assert lab.process.returncode is not None  # the server is gone
