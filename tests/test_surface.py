"""The table of the supported NumPy surface (the docs' reference page, `python -m cotangent rules`)
is made from the frontend's dispatch tables and the rule table, so it cannot drift from the code:
every function the frontend lowers has a row, every row names a function it lowers, and the page
shows the table as the code prints it."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from cotangent import surface

PAGE = Path(__file__).resolve().parents[1] / "docs" / "reference" / "numpy.md"
START = "<!-- the supported surface: python -m cotangent rules --markdown -->"
END = "<!-- end of the supported surface -->"


def test_every_function_has_a_row_and_every_row_a_function():
    lowered_without_a_row, rows_without_a_function = surface.missing_notes()
    assert not lowered_without_a_row, f"add rows to compiler/surface_notes.py for {sorted(lowered_without_a_row)}"
    assert not rows_without_a_function, f"rows name nothing lowered: {sorted(rows_without_a_function)}"


def test_the_reference_page_shows_the_table_the_code_prints():
    text = PAGE.read_text()
    assert START in text and END in text
    shown = text[text.index(START) + len(START):text.index(END)].strip("\n") + "\n"
    assert shown == surface.markdown(), \
        "docs/reference/numpy.md's table is stale: python -m cotangent rules --markdown prints it"


def test_elementwise_rows_print_what_sympy_derived():
    rows = {r.spellings[0]: r for r in surface.rows()}
    assert rows["np.tanh"].derivative == "d/dx = 1 - out**2"
    assert rows["np.exp"].derivative == "d/dx = out"
    assert "math.tanh" in rows["np.tanh"].spellings
    assert rows["np.sign"].derivative.startswith("0")
    assert rows["np.linalg.solve"].area == "linear algebra"


def test_command_line_prints_the_table():
    out = subprocess.run([sys.executable, "-m", "cotangent", "rules"], capture_output=True, text=True,
                         check=True).stdout
    for name in ("np.linalg.cholesky", "np.einsum", "scipy.special.logsumexp", "np.var", "np.roll",
                 "x[mask], x[x > 0]", "s.append(v)"):
        assert name in out, name
    md = subprocess.run([sys.executable, "-m", "cotangent", "rules", "--markdown"], capture_output=True,
                        text=True, check=True).stdout
    assert md == surface.markdown()
    assert len(re.findall(r"^\| ", md, re.M)) == len(surface.rows()) + 1
