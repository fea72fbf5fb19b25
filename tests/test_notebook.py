"""A figure that is a notebook cell's last value shows inline, as an image, with no
``%matplotlib inline``: a real notebook is run by a Jupyter kernel (nbclient) and its output
cells are read back."""

import json
import sys

import nbclient
import nbformat

CELLS = (
    "import pandas as pd\nfrom sim import plots",
    "runs = pd.DataFrame({'max_rung': [0, 3, 3, 4, 6], "
    "**{f'first_day_rung_{r}': [None] * 5 for r in (3, 4, 5, 6)}})\n"
    "plots.max_rung_distribution(runs)",
)
"""A notebook that draws a figure from a tiny in-memory runs table (five runs)."""


def run_notebook(cells, kernels) -> list[list[dict]]:
    """The outputs of each cell of a notebook of ``cells``, run by a fresh kernel of the Python
    that runs the tests (so it imports this ``sim``), declared in the folder ``kernels``."""
    spec = kernels / "kernels" / "sim-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "sim test", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="sim-test").execute()
    return [cell.outputs for cell in notebook.cells]


def test_a_figure_as_a_cells_value_shows_inline_as_an_image(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    outputs = run_notebook(CELLS, tmp_path)[-1]
    (result,) = [o for o in outputs if o.output_type == "execute_result"]
    images = {"image/png", "image/svg+xml"} & set(result.data)
    assert images, f"no image, only {result.data.get('text/plain')}"
    if "image/png" in images:
        assert result.metadata["image/png"] == {"width": 350, "height": 250}
