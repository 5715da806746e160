"""Documentation that cannot drift from the code.

* Every fenced ```python block in README.md and in docs/**/*.md runs here (the blocks of one page
  in order, in one namespace), unless a line `<!-- not run -->` stands directly above its fence or
  it is a markdown-exec block (`exec="on"`), which the site build runs.
* The site builds with `mkdocs build --strict` (broken links, missing references and a tutorial
  block that raises all fail it); skipped where the `docs` extra is not installed.
* Headless Chromium renders the built home page and a tutorial, which must show code blocks and a
  plot image; skipped where no Chromium is installed.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
NOT_RUN = "<!-- not run -->"


def python_blocks(path: Path) -> list[tuple[int, str, bool]]:
    """(line, code, runs here) for each python block of a page."""
    text = path.read_text()
    blocks = []
    for m in FENCE.finditer(text):
        info = m.group("info").strip()
        if not info.startswith("python"):
            continue
        line = text.count("\n", 0, m.start()) + 1
        before = text[:m.start()].rstrip("\n").splitlines()
        marked = bool(before) and before[-1].strip() == NOT_RUN
        executed_by_build = 'exec="on"' in info
        code = "\n".join(l[len(m.group("indent")):] for l in m.group("body").splitlines())
        blocks.append((line, code, not (marked or executed_by_build)))
    return blocks


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_code_blocks_run(page, tmp_path, monkeypatch):
    """A page's runnable blocks run in order; each is written to a file first, so cotangent can
    read the source of the functions it defines (as it reads a user's module)."""
    runnable = [(line, code) for line, code, runs in python_blocks(page) if runs]
    if not runnable:
        pytest.skip("no runnable python blocks (all marked not run or run by the site build)")
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "__docs__"}
    for k, (line, code) in enumerate(runnable):
        path = tmp_path / f"{page.stem.replace('-', '_')}_block{k}.py"
        path.write_text(code + "\n")
        try:
            exec(compile(code, str(path), "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"{_id(page)}:{line}: the code block raises {type(e).__name__}: {e}") from e


def test_every_python_block_is_run_or_marked():
    """A block is either run here, run by the site build, or marked as not run (the count of each
    kind is a sanity check that the markers are read)."""
    counts = {"run": 0, "site": 0, "marked": 0}
    for page in PAGES:
        text = page.read_text()
        for m in FENCE.finditer(text):
            info = m.group("info").strip()
            if not info.startswith("python"):
                continue
            before = text[:m.start()].rstrip("\n").splitlines()
            if 'exec="on"' in info:
                counts["site"] += 1
            elif before and before[-1].strip() == NOT_RUN:
                counts["marked"] += 1
            else:
                counts["run"] += 1
    assert counts["run"] >= 1 and counts["site"] >= 8, counts


def test_readme_is_short_and_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; it should stay about 150"
    commands = [l for l in lines[:10] if l.startswith("python3 -m venv")]
    assert len(commands) == 2 and commands[1].endswith('pip install -e ".[dev]" && python -m pytest -n auto')


def test_readme_links_lead_to_files():
    """README's relative links (into docs/, benchmarks/) name files that exist: on GitHub they are
    the way into the site's pages."""
    text = (ROOT / "README.md").read_text()
    targets = [m.group(1) for m in re.finditer(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
               if not m.group(1).startswith(("http://", "https://"))]
    assert len(targets) >= 20
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs", reason='the docs extra is not installed: pip install -e ".[docs]"')
    pytest.importorskip("markdown_exec")
    pytest.importorskip("mkdocstrings")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return out


@pytest.mark.slow
def test_site_builds_strictly(site):
    assert (site / "index.html").exists()
    tutorial = (site / "tutorials" / "training" / "index.html").read_text()
    assert "data:image/png;base64," in tutorial, "the training tutorial shows its plots"
    assert "predictions:" in tutorial, "the tutorials' printed output is on the page"
    reference = (site / "reference" / "api" / "index.html").read_text()
    assert "value_and_grad" in reference and "argnums" in reference


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
@pytest.mark.parametrize("page, needs_plot", [("index.html", False), ("tutorials/newton/index.html", True)])
def test_pages_render_in_headless_chromium(site, page, needs_plot):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium)")
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                           (site / page).as_uri()], capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert "<pre" in dom and "<code" in dom, f"no code blocks in the rendered {page}: {proc.stderr[-500:]}"
    if needs_plot:
        assert re.search(r'<img[^>]+src="data:image/png;base64,', dom), f"no plot in the rendered {page}"
