"""``sim gallery`` draws every figure from the shipped scenarios and calibration, and a failure
leaves the old gallery whole."""

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import sim.figures.gallery as gallery
from sim.cli.main import main
from sim.figures.plots import RESULTS_FIGURES

ROOT = Path(__file__).parents[1]
STUDIES = {"compare", "sweep", "sobol", "calibration", "predictive"}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the shipped scenarios and calibration, with an old gallery in its docs."""
    for folder in ("scenarios", "calibration"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("draws"))
    (tmp_path / "docs" / "gallery").mkdir(parents=True)
    (tmp_path / "docs" / "gallery.md").write_text("old gallery\n")
    (tmp_path / "docs" / "gallery" / "old.png").write_bytes(b"old")
    monkeypatch.setattr(gallery, "SOBOL_BASE_SAMPLES", 4)
    monkeypatch.setattr(gallery, "SOBOL_REPLICATIONS", 2)
    return tmp_path


def test_gallery_draws_every_figure_with_its_numbers(project):
    result = CliRunner().invoke(main, ["gallery", "--root", str(project), "-n", "20"])
    assert result.exit_code == 0, result.output
    docs = project / "docs"
    text = (docs / "gallery.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\((gallery/[^)]+\.png)\)", text)
    assert {Path(i).stem for i in images} == set(RESULTS_FIGURES) | STUDIES
    assert sorted(p.name for p in (docs / "gallery").glob("*.png")) == sorted(
        Path(i).name for i in images
    )
    for image in images:
        assert (docs / image).read_bytes().startswith(b"\x89PNG")
        numbers = (docs / image).with_suffix(".csv").read_text()
        assert len(numbers.splitlines()) >= 2, image
    assert "n = 20 replications" in text and "Made from:" in text


def test_a_failing_figure_leaves_the_old_gallery_whole(project, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(gallery.plots, "sobol_indices", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        gallery.draw_gallery(project, n=20)
    docs = project / "docs"
    assert (docs / "gallery.md").read_text() == "old gallery\n"
    assert [p.name for p in (docs / "gallery").iterdir()] == ["old.png"]
