"""The tutorials in a real browser: JupyterLab served on 127.0.0.1, driven by Debian's headless Chromium (playwright).

Tutorials 01 and 02 are copied with their outputs cleared and run with Run › Run All Cells; the test then reads the
page: every code cell executed, no error output, every circuitsvis token view rendered by circuitsvis itself (not
just its plain-HTML fallback), and the stepper widget steps between turns. A second test reopens tutorial 01 as
committed (executed) in a browser whose every non-loopback request is aborted and counted: the token views must
render from the saved output alone. Screenshots go to ``$SAGE_NB_ARTIFACTS`` (default ``artifacts/browser/``); on a
failure the page's screenshot, its console log and the server's log go there too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
TUTORIAL_01 = ROOT / "tutorials" / "01_features_and_activations.ipynb"
TUTORIAL_02 = ROOT / "tutorials" / "02_the_sage_loop.ipynb"
SAVED_DIR = "saved"  # under the server's root: tutorials as committed, with their outputs
MINUTE_MS = 60_000
VIEWPORT = {"width": 1280, "height": 1600}

pytestmark = pytest.mark.slow


def _skip_or_fail(reason: str) -> None:
    """Skip when the browser tools are missing, but fail where they must be there: under ``scripts/test.sh`` (it
    runs scripts/install_browser.sh, which installs chromium, and sets ``$SAGE_NB_BROWSER_REQUIRED``) or in CI."""
    if os.environ.get("SAGE_NB_BROWSER_REQUIRED") or os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests: run scripts/install_browser.sh)")
    pytest.skip(reason)


try:
    from playwright.sync_api import Browser, Locator, Page, Playwright, expect, sync_playwright
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None


# ------------------------------------------------------------------------------------------------- artifacts


def artifacts_dir() -> Path:
    """Where screenshots and failure logs go: ``$SAGE_NB_ARTIFACTS`` or ``artifacts/browser/`` in the repository."""
    path = Path(os.environ.get("SAGE_NB_ARTIFACTS") or ROOT / "artifacts" / "browser")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class PageLog:
    """Console messages and failed requests of one page, kept for the failure report."""

    lines: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", lambda m: self.lines.append(f"console.{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.lines.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: self.lines.append(f"requestfailed: {r.url} ({r.failure})"))


@contextlib.contextmanager
def report_failure(page: Page, log: PageLog, name: str, server_log: Path) -> Iterator[None]:
    """On an exception, save the page's screenshot, its console log and the server log's tail, then re-raise."""
    try:
        yield
    except BaseException:
        out = artifacts_dir()
        with contextlib.suppress(Exception):
            page.screenshot(path=str(out / f"{name}-failure.png"), full_page=True)
        (out / f"{name}-console.log").write_text("\n".join(log.lines) + "\n", encoding="utf-8")
        with contextlib.suppress(OSError):
            shutil.copyfile(server_log, out / f"{name}-jupyterlab.log")
        raise


# ---------------------------------------------------------------------------------------------- the server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cleared_copy(src: Path, dest: Path) -> None:
    """Write ``src`` to ``dest`` with every output, execution count and saved widget state removed."""
    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, dest)


def lab_settings(settings_dir: Path) -> None:
    """User settings for the test's JupyterLab: no news or update checks (no pop-up, no request to a website)."""
    path = settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


@dataclass
class Lab:
    """A running JupyterLab: its base URL, token, root dir, environment and process."""

    url: str
    token: str
    root: Path
    env: dict[str, str]
    process: subprocess.Popen
    log: Path

    def page_url(self, notebook: str, workspace: str) -> str:
        """URL that opens ``notebook`` alone, in a fresh workspace (no tabs restored from another test)."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET") -> object:
        """Call the server's REST API; JSON reply (None when empty)."""
        request = urllib.request.Request(
            f"{self.url}/api/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut down every kernel (each tutorial's kernel holds the model and the LLM in memory)."""
        for kernel in self.api("kernels") or []:  # type: ignore[union-attr]
            with contextlib.suppress(urllib.error.URLError):
                self.api(f"kernels/{kernel['id']}", method="DELETE")


def server_env(tmp: Path) -> dict[str, str]:
    """The server's (and so the kernels') environment: offline, few threads, Jupyter state in ``tmp``."""
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        # torch threads spin while the browser and the server need the cores (docs/benchmarks.md)
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 2) // 2)),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        # trust database, config and runtime files of this server only; the venv's kernelspec is still found
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
    )
    return env


def wait_until_up(lab: Lab, timeout_s: float = 180) -> None:
    """Poll the server's status until it answers; fail with its log if it exits or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {lab.process.returncode}:\n{lab.log.read_text()[-4000:]}")
        with contextlib.suppress(OSError):
            lab.api("status")
            return
        time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer in {timeout_s:.0f} s:\n{lab.log.read_text()[-4000:]}")


def stop(process: subprocess.Popen) -> None:
    """Stop the server (SIGTERM: it shuts its kernels down), killing it if it does not exit in 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on a free port of 127.0.0.1, random token, the venv's ``python3`` kernel; its root holds the
    tutorials with outputs cleared, the recordings they replay, and ``saved/`` the committed tutorial 01 (executed),
    trusted."""
    if sync_playwright is None:
        _skip_or_fail("the playwright package is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        _skip_or_fail(f"{CHROMIUM} is not installed (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    (root / SAVED_DIR).mkdir(parents=True)
    for tutorial in (TUTORIAL_01, TUTORIAL_02):
        cleared_copy(tutorial, root / tutorial.name)
    shutil.copytree(TUTORIAL_02.parent / "recordings", root / "recordings")  # tutorial 02 replays its recorded run
    shutil.copyfile(TUTORIAL_01, root / SAVED_DIR / TUTORIAL_01.name)
    lab_settings(tmp / "settings")
    env = server_env(tmp)
    # a saved notebook's scripts run only when it is trusted: sign it, as its author would (`jupyter trust`)
    subprocess.run(
        [sys.executable, "-m", "jupyter", "trust", str(root / SAVED_DIR / TUTORIAL_01.name)],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port, token = free_port(), secrets.token_hex(24)
    log = tmp / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={tmp / 'settings'}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
        "--MappingKernelManager.default_kernel_name=python3",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Lab(f"http://127.0.0.1:{port}", token, root, env, process, log)
    try:
        wait_until_up(server)
        yield server
    finally:
        with contextlib.suppress(OSError):
            server.shutdown_kernels()
        stop(process)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """The playwright driver (it ships with the Python package; no browser is downloaded)."""
    with sync_playwright() as pw:
        yield pw


def launch(pw: Playwright, *args: str) -> Browser:
    """Debian's Chromium, headless, with extra command-line ``args``."""
    return pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=list(args))


# ------------------------------------------------------------------------------------------------ the page


@contextlib.contextmanager
def browser_page(browser: Browser, lab: Lab, name: str) -> Iterator[Page]:
    """A fresh page; a failure inside the block leaves its screenshot and logs as ``<artifacts>/<name>-*``."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    log = PageLog()
    log.attach(page)
    try:
        with report_failure(page, log, name, lab.log):
            yield page
    finally:
        context.close()
        lab.shutdown_kernels()


def open_notebook(page: Page, lab: Lab, notebook: str, workspace: str) -> None:
    """Open ``notebook`` alone in JupyterLab and wait until its kernel is idle."""
    page.goto(lab.page_url(notebook, workspace))
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=2 * MINUTE_MS)
    wait_idle(page, timeout_ms=3 * MINUTE_MS)


def wait_idle(page: Page, timeout_ms: int) -> None:
    """Wait until the status bar says the notebook's kernel is connected and idle ("Python 3 (ipykernel) | Idle").

    (The toolbar's execution indicator reads idle before the kernel is connected; a Run All then runs nothing.)"""
    page.wait_for_function(
        "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.textContent || '')",
        timeout=timeout_ms,
        polling=250,
    )


def run_all_cells(page: Page) -> None:
    """Run › Run All Cells, from JupyterLab's menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    try:  # fail in a minute, not at the long timeout, when nothing starts
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]"
            ".some(p => /^\\[(\\*|\\d+)\\]:$/.test(p.textContent.trim()))",
            timeout=MINUTE_MS,
        )
    except PlaywrightError as exc:
        raise AssertionError("Run › Run All Cells started no cell") from exc


# A cell's prompt reads "[ ]:" (not run), "[*]:" (queued or running) or "[3]:"; an error output is rendered as
# stderr text whose traceback names the exception (SyntaxErrors have no "Traceback" line).
_PAGE_STATE_JS = """(expected) => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')];
  const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt')?.textContent || '').trim());
  const errors = [...document.querySelectorAll(
      '.jp-NotebookPanel .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(o => o.textContent).filter(t => /Traceback \\(most recent call last\\)|^\\w*(Error|Exception)\\b/m.test(t));
  const done = cells.length === expected && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
  return {done, errors, prompts};
}"""


def wait_executed(page: Page, code_cells: int, timeout_ms: int) -> None:
    """Wait until all ``code_cells`` cells show an execution count (or an error output appears), and the kernel
    is idle; fail on an error output."""
    page.wait_for_function(
        f"(n) => {{ const s = ({_PAGE_STATE_JS})(n); return s.done || s.errors.length > 0; }}",
        arg=code_cells,
        timeout=timeout_ms,
        polling=1000,
    )
    wait_idle(page, timeout_ms=MINUTE_MS)
    state = page.evaluate(_PAGE_STATE_JS, code_cells)
    assert not state["errors"], "error output in the notebook:\n" + "\n---\n".join(state["errors"])
    assert state["done"], f"not every code cell ran: prompts {state['prompts']}"


# A mount is rendered by circuitsvis when its plain-HTML fallback (.snb-tk) has been replaced by .colored-tokens.
_MOUNTS_JS = """() => {
  const mounts = [...document.querySelectorAll('.jp-NotebookPanel [data-snb-cv]')];
  const rendered = mounts.filter(m => !m.querySelector('.snb-tk')
    && m.querySelectorAll('.colored-tokens > span > span').length > 0
    && m.querySelector('.colored-tokens').textContent.trim().length > 0);
  const coloured = mounts.some(m => [...m.querySelectorAll('.colored-tokens span span')]
    .some(s => !/^rgb\\(255, 255, 255\\)$|^$/.test(s.style.backgroundColor)));
  return {mounts: mounts.length, rendered: rendered.length, coloured};
}"""


def wait_token_views(page: Page, expected: int | None, timeout_ms: int = 2 * MINUTE_MS) -> int:
    """Wait until the notebook holds ``expected`` circuitsvis mounts (at least one when None) and circuitsvis
    rendered every one (tokens in its own ``.colored-tokens`` element, some coloured); returns their number."""
    least = expected or 1
    with contextlib.suppress(PlaywrightError):  # on a timeout, the assertions below say what is missing
        page.wait_for_function(
            f"(n) => {{ const s = ({_MOUNTS_JS})(); return s.mounts >= n && s.rendered === s.mounts; }}",
            arg=least,
            timeout=timeout_ms,
            polling=500,
        )
    state = page.evaluate(_MOUNTS_JS)
    assert state["mounts"] >= least, f"{state['mounts']} token views in the page, expected {expected or 'some'}"
    if expected is not None:
        assert state["mounts"] == expected, f"{state['mounts']} token views in the page, {expected} in the output"
    assert state["rendered"] == state["mounts"], f"circuitsvis rendered {state['rendered']} of {state['mounts']}"
    assert state["coloured"], "no token of any view is coloured"
    return state["mounts"]


def _overlaps(box: dict[str, float], view: dict[str, float]) -> bool:
    """Whether ``box`` shows, at least in part, inside ``view`` (vertically)."""
    return box["y"] < view["y"] + view["height"] and box["y"] + box["height"] > view["y"]


def shoot(page: Page, element: Locator, name: str, max_height: int = 1400) -> Path:
    """Scroll ``element`` to the top of the notebook, check it is visible with a size, and save the part of it the
    notebook shows (at most ``max_height`` px) as ``<artifacts>/<name>.png``.

    (The notebook scrolls inside the page, so playwright's element screenshots of tall elements come out garbled.)"""
    element.scroll_into_view_if_needed(timeout=MINUTE_MS)
    expect(element).to_be_visible()
    panel = page.locator(".jp-NotebookPanel .jp-WindowedPanel-outer").first
    box, view = None, None
    for _ in range(40):  # the windowed notebook lays its cells out again around a scroll: wait until it settles
        element.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(250)
        box, view = element.bounding_box(), panel.bounding_box()
        if box and view and _overlaps(box, view):
            break
    assert box and view and box["width"] > 50 and box["height"] > 20, f"{name}: no visible size: {box}"
    assert _overlaps(box, view), f"{name}: outside the notebook's view after scrolling: {box}, view {view}"
    top = max(box["y"], view["y"])
    bottom = min(box["y"] + box["height"], view["y"] + view["height"], top + max_height)
    path = artifacts_dir() / f"{name}.png"
    width = max(box["width"], view["x"] + view["width"] - box["x"])  # a widget row may overflow its output area
    page.screenshot(path=str(path), clip={"x": box["x"], "y": top, "width": width, "height": bottom - top})
    return path


class _MountCounter(HTMLParser):
    """Counts the circuitsvis mount elements (``data-snb-cv``) of an HTML text."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.count += any(name == "data-snb-cv" for name, _ in attrs)


def saved_token_views(path: Path) -> int:
    """How many circuitsvis token views the committed, executed notebook ``path`` holds in its HTML outputs."""
    counter = _MountCounter()
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            counter.feed(output.get("data", {}).get("text/html", ""))
    return counter.count


def code_cell_count(path: Path) -> int:
    """Number of code cells in the notebook ``path``."""
    return sum(cell.cell_type == "code" for cell in nbformat.read(path, as_version=4).cells)


# ---------------------------------------------------------------------------------------------- the stepper

TURN_LABEL = re.compile(r"^turn \d+/\d+ · \w+")


def steppers(page: Page) -> Locator:
    """The notebook's outputs that show a stepper widget (its "Next ▶" button)."""
    next_button = page.locator("button.widget-button", has_text=re.compile("^Next ▶$"))
    return page.locator(".jp-NotebookPanel .jp-OutputArea-output").filter(has=next_button)


def turn_label(stepper: Locator) -> Locator:
    """The stepper's Label widget (a child of its button row; the slider's "turn" label is another one)."""
    return stepper.locator(".widget-hbox > .widget-label")


def step_through(page: Page, stepper_index: int) -> list[str]:
    """Read the shown turn of a stepper, click its buttons and check the shown turn changes at each click.

    At the last turn "Next ▶" is disabled, so "◀ Previous" is clicked first. Returns the labels shown in turn."""
    stepper = steppers(page).nth(stepper_index)
    label = turn_label(stepper)
    expect(label).to_have_text(TURN_LABEL)
    shown = [label.text_content()]
    next_button = stepper.locator('button:text-is("Next ▶")')
    if next_button.is_disabled():
        stepper.locator('button:text-is("◀ Previous")').click()
        expect(label).not_to_have_text(shown[-1], timeout=MINUTE_MS)
        shown.append(label.text_content())
    expect(next_button).to_be_enabled()
    next_button.click()
    expect(label).not_to_have_text(shown[-1], timeout=MINUTE_MS)
    shown.append(label.text_content())
    return shown


def turn_number(label: str) -> int:
    """The 1-based turn of a label such as ``'turn 3/12 · designer · H1'``."""
    match = re.match(r"turn (\d+)/", label)
    assert match, label
    return int(match.group(1))


# --------------------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium for the tests that run the tutorials."""
    chromium = launch(playwright)
    yield chromium
    chromium.close()


def test_tutorial_01_runs_in_jupyterlab_and_circuitsvis_renders(lab: Lab, browser: Browser) -> None:
    with browser_page(browser, lab, "tutorial01") as page:
        open_notebook(page, lab, TUTORIAL_01.name, "tutorial01")
        run_all_cells(page)
        wait_executed(page, code_cell_count(TUTORIAL_01), timeout_ms=12 * MINUTE_MS)
        wait_token_views(page, saved_token_views(TUTORIAL_01))
        shoot(page, page.locator(".jp-NotebookPanel .snb-feature").first, "feature_view")
        page.screenshot(path=str(artifacts_dir() / "tutorial01.png"))


@pytest.mark.timeout(1800)
def test_tutorial_02_runs_in_jupyterlab_and_the_stepper_steps(lab: Lab, browser: Browser) -> None:
    with browser_page(browser, lab, "tutorial02") as page:
        open_notebook(page, lab, TUTORIAL_02.name, "tutorial02")
        run_all_cells(page)
        wait_executed(page, code_cell_count(TUTORIAL_02), timeout_ms=25 * MINUTE_MS)
        wait_token_views(page, None)  # how many: the LLM's turns decide
        # the planted run's stepper, then the live one, displayed twice (one model, two views)
        shown = steppers(page)
        expect(shown).to_have_count(3, timeout=MINUTE_MS)
        labels = [turn_label(shown.nth(i)) for i in range(3)]
        for label in labels:
            expect(label).to_have_text(TURN_LABEL)
        assert labels[1].text_content() == labels[2].text_content(), "two views of one stepper show different turns"
        expect(shown.first.locator(".widget-html .snb-turn")).to_be_visible()
        shoot(page, shown.first, "stepper")
        planted = step_through(page, 0)
        assert turn_number(planted[-1]) == turn_number(planted[-2]) + 1, planted
        # the live stepper's two views follow one model: stepping in one moves the other
        live = step_through(page, 1)
        expect(labels[2]).to_have_text(live[-1])


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"} or url.startswith(("data:", "blob:", "about:"))


@pytest.fixture(scope="module")
def offline_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium whose non-loopback traffic goes to a closed port (loopback is exempt by default)."""
    chromium = launch(playwright, "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1;localhost")
    yield chromium
    chromium.close()


def abort_external(page: Page) -> list[str]:
    """Abort every request of ``page`` that does not go to loopback; returns the (growing) list of their URLs."""
    aborted: list[str] = []

    def handle(route: object) -> None:
        aborted.append(route.request.url)  # type: ignore[attr-defined]
        route.abort("internetdisconnected")  # type: ignore[attr-defined]

    page.route(lambda url: not _is_loopback(url), handle)
    return aborted


def test_saved_tutorial_renders_offline(lab: Lab, offline_browser: Browser) -> None:
    with browser_page(offline_browser, lab, "offline") as page:
        aborted = abort_external(page)
        open_notebook(page, lab, f"{SAVED_DIR}/{TUTORIAL_01.name}", "offline")
        wait_token_views(page, saved_token_views(TUTORIAL_01))
        shoot(page, page.locator(".jp-NotebookPanel .snb-feature").first, "feature_view_offline")
        assert aborted == [], f"the page asked for {len(aborted)} non-local resources: {aborted[:10]}"
        # the cut is real: a CDN request from the page fails, and is counted
        sentinel = "https://cdn.jsdelivr.net/npm/circuitsvis/dist/cdn/iife.js"
        assert page.evaluate("(u) => fetch(u).then(() => false, () => true)", sentinel)
        assert aborted == [sentinel]
