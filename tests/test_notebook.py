"""In a notebook: a figure that is a cell's last value shows inline, as an image, with no
``%matplotlib inline``; a study run from the Python API shows a progress bar updated in place,
and none with ``progress=False``. A real notebook is run by a Jupyter kernel (nbclient) and its
output cells are read back."""

import json
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

import sim

POINT = Path(__file__).parents[1] / "scenarios" / "april-2024-point.yaml"
STUDY = f"sim.run({str(POINT)!r}, n=20, workers=1, executor='serial', chunk_size=5"
CELLS = (
    "import pandas as pd\nfrom sim import plots",
    "runs = pd.DataFrame({'max_rung': [0, 3, 3, 4, 6], "
    "**{f'first_day_rung_{r}': [None] * 5 for r in (3, 4, 5, 6)}})\n"
    "plots.max_rung_distribution(runs)",
    f"import sim\n{STUDY}).manifest['n']",
    f"{STUDY}, progress=False).manifest['n']",
)
"""A notebook that draws a figure from a tiny in-memory runs table (five runs), then runs a
study of 20 replications with its progress shown, and one without."""


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


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> list[list[dict]]:
    kernels = tmp_path_factory.mktemp("kernels")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(kernels))
        return run_notebook(CELLS, kernels)


def test_a_figure_as_a_cells_value_shows_inline_as_an_image(outputs):
    (result,) = [o for o in outputs[1] if o.output_type == "execute_result"]
    images = {"image/png", "image/svg+xml"} & set(result.data)
    assert images, f"no image, only {result.data.get('text/plain')}"
    if "image/png" in images:
        assert result.metadata["image/png"] == {"width": 350, "height": 250}


def test_a_study_from_the_api_shows_its_progress_in_the_notebook_updated_in_place(outputs):
    shown = [o for o in outputs[2] if o.output_type == "display_data"]
    assert len(shown) == 1, "one bar, updated in place, not one output per update"
    (bar,) = shown
    assert bar.data["text/plain"].startswith("replications 20/20 100% ")
    assert bar.data["text/plain"].endswith(" left")
    assert '<progress value="20" max="20"' in bar.data["text/html"]
    assert not [o for o in outputs[2] if o.output_type in ("stream", "error")]
    (result,) = [o for o in outputs[2] if o.output_type == "execute_result"]
    assert result.data["text/plain"] == "20"


def test_progress_false_shows_nothing_in_the_notebook(outputs):
    assert [o.output_type for o in outputs[3]] == ["execute_result"]
    assert outputs[3][0].data["text/plain"] == "20"


def test_outside_a_notebook_and_a_terminal_no_bar_is_drawn(tmp_path, capfd):
    results = sim.run(POINT, n=10, workers=1, executor="serial", chunk_size=5, out=tmp_path / "o")
    assert results.manifest["n"] == 10
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


class FakeDisplay:
    """``IPython.display.display`` as a notebook front end sees it: each display by its id,
    replaced by its updates."""

    def __init__(self):
        self.shown: list[dict] = []

    def __call__(self, bundle, raw=False, display_id=False):
        assert raw and display_id is True
        self.shown.append(bundle)
        index = len(self.shown) - 1
        shown = self.shown

        class Handle:
            def update(self, new, raw=False):
                shown[index] = new

        return Handle()


def test_a_comparison_shows_one_bar_per_setting_in_a_notebook(tmp_path, monkeypatch):
    import IPython.display

    from sim.compare import compare
    from sim.study import progress

    fake = FakeDisplay()
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake)
    variants = ["calm: actors.iran.policy.self_restraint=0.9"]
    options = {"n": 10, "workers": 1, "executor": "serial", "chunk_size": 5}
    compare(POINT, variants, out=tmp_path / "cmp", **options)
    assert [bundle["text/plain"].split(" ")[:3] for bundle in fake.shown] == [
        ["replications", "10/10", "100%"]
    ] * 2
    compare(POINT, variants, out=tmp_path / "quiet", progress=False, **options)
    assert len(fake.shown) == 2
