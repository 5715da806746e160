"""How compiled functions show in a notebook: the generated source of their last call, highlighted
by Pygments when it is installed (a plain <pre> otherwise). `api.py` points the `_repr_html_` of
what ct.differentiable, ct.grad and ct.value_and_grad return here."""
from __future__ import annotations

import html


def source_html(obj) -> str:
    """HTML for a compiled function: what it is, and the source generated for its last call (or a
    line saying that it has not been compiled yet)."""
    from .api import _transform_of
    t = _transform_of(obj)
    name = getattr(t.pyfunc, "__qualname__", t.pyfunc.__name__)
    what = "" if t.mode == "primal" else f"{t.mode} of "
    title = f"<p>cotangent: {html.escape(what)}<code>{html.escape(name)}</code>"
    compiled = t.last
    if compiled is None:
        return (f"{title}, not compiled yet. The code is generated on the first call, for the kinds of "
                "arguments it is called with: call it once, or show "
                "<code>ct.source(f, *example_args)</code>.</p>")
    return f"{title}, generated for its last call ({html.escape(compiled.path)}):</p>\n{highlight(compiled.source)}"


def highlight(source: str) -> str:
    """Python source as HTML: Pygments with inline styles when installed, else a plain <pre>."""
    try:
        from pygments import highlight as pygments_highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f"<pre>{html.escape(source)}</pre>"
    return pygments_highlight(source, PythonLexer(), HtmlFormatter(noclasses=True))


def figure_html(fig, alt: str = "figure", dpi: int = 90) -> str:
    """A matplotlib figure as an <img> tag with the PNG inline: for notebooks shown as HTML and for
    the documentation pages, whose code runs when the site is built."""
    import base64
    import io
    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
