"""Live code in a real Jupyter kernel: define, differentiate, redefine a helper, reassign a global,
differentiate again, print the generated source and train with a progress bar; and the example
notebook of the lectures' worked examples, run top to bottom."""
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

import cotangent as ct  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def execute(nb, cwd: Path):
    """Run every cell in a fresh kernel that shares the tests' cache directory."""
    env = {"COTANGENT_CACHE_DIR": str(ct.config.cache_dir)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def text(cell, stream: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == stream)


CELLS = [
    "import numpy as np\nimport cotangent as ct",
    "def helper(x):\n    return x * x\n\ndef f(x):\n    return np.sum(helper(x))\n\n"
    "g = ct.grad(f)\nprint(g(np.ones(2)))",
    "def helper(x):\n    return 3.0 * x * x\n\nprint(g(np.ones(2)))\nprint(ct.grad(f)(np.ones(2)))",
    "K = 2.0\n\ndef loss(x):\n    return np.sum(K * x * x)\n\nprint(ct.grad(loss)(np.ones(2)))",
    "K = 5.0\nprint(ct.grad(loss)(np.ones(2)))",
    "print(ct.source(ct.grad(f)))",
    "from cotangent.models import mlp, points\n"
    "model, history = mlp.train_xor(epochs=200, progress=True)\n"
    "print('predictions', np.argmax(model.predict(points.xor()[0]), axis=1))",
]


def test_live_definitions_in_a_kernel(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    cells = execute(nb, tmp_path).cells
    assert text(cells[1]).split() == ["[2.", "2.]"]
    assert text(cells[2]).split() == ["[6.", "6.]", "[6.", "6.]"]        # the redefined helper
    assert text(cells[3]).split() == ["[4.", "4.]"]
    assert text(cells[4]).split() == ["[10.", "10.]"]                     # the reassigned global
    source = text(cells[5])
    assert "def f_grad(x):" in source and "3.0" in source
    # the generated code names the cell's own lines (IPython's file for the cell, line 5)
    assert re.search(r"# \S+\.py:5\s+return np\.sum\(helper\(x\)\)", source), source
    bar = text(cells[6], "stderr")
    assert "xor: 100%" in bar and "200/200" in bar and "IProgress" not in bar
    assert text(cells[6]).strip().endswith("predictions [0 1 1 0]")
    assert all(o.output_type != "error" for c in cells for o in c.outputs)


def test_the_lectures_notebook_runs():
    path = ROOT / "examples" / "autodiff_lectures.ipynb"
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in execute(nb, path.parent).cells if c.cell_type == "code"]
    out = "".join(text(c) for c in cells)
    assert "f(2, 3) = 1.7918, gradient = (0.5000, 0.3333)" in out
    assert "forward: (2.5839, 2.0000)  reverse: (2.5839, 2.0000)" in out
    assert "d/dx x^5 at 2: 80.0" in out
    softplus = re.search(r"softplus neuron: \[([^\]]+)\]\nby hand: +\[([^\]]+)\]", out)
    assert softplus and softplus.group(1).split() == softplus.group(2).split()
    assert "predictions: [0 1 1 0] targets: [0 1 1 0]" in out
