"""``sim plot`` on a calibration folder names relations by alias, as the gallery does, when the
calibrated scenario can still be found, and falls back to their paths when it cannot."""

from contextlib import chdir
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from sim.cli.figures import figures_of
from sim.cli.main import main

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
OBEY = "proxy[hezbollah>iran].obey_probability"
ALIAS = "proxy[hezbollah>iran] obey_probability"  # the alias, shortened as the figure draws it


def ticks(folder: Path) -> list[str]:
    [(_, figure, _)] = figures_of(folder, ("calibration",))
    return [t.get_text() for t in figure.axes[0].get_yticklabels()]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A folder where `sim calibrate --config tiny.yaml -o out` ran on a budget of seconds."""
    here = tmp_path_factory.mktemp("project")
    raw = yaml.safe_load((ROOT / "calibration" / "calibrate.yaml").read_text(encoding="utf-8"))
    april = raw["episodes"]["april-2024"] | {"scenario": str(APRIL)}
    raw["episodes"] = {"april-2024": april}  # the shared priors all have paths in April
    raw["smc"] |= {"particles": 20, "chunk": 20, "max_generations": 6, "final_epsilon": 1.5}
    raw["checks"] |= {"predictive_runs": 40, "variance": {"parameter_sets": 3, "replications": 2}}
    raw["check"] = {"reference_runs": 100, "datasets": 20, "accept": 10}
    (here / "tiny.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with chdir(here):
        args = ["calibrate", "--config", "tiny.yaml", "-o", "out", "--executor", "serial"]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return here


def test_sim_plot_names_a_calibrated_relation_by_its_alias(project):
    with chdir(project):
        args = ["plot", "out", "--kind", "calibration", "--format", "svg", "-o", "figures"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        drawn = pd.read_csv("figures/calibration.csv").drop_duplicates("parameter")
        assert drawn.set_index("parameter").label[OBEY] == ALIAS
        assert ALIAS in ticks(Path("out")) and not any(
            "relations." in t for t in ticks(Path("out"))
        )


def test_the_shipped_calibration_is_named_by_alias_from_its_own_config():
    assert ALIAS in ticks(ROOT / "calibration")


def test_without_the_calibrated_scenario_the_paths_are_drawn(project, tmp_path):
    with chdir(project):
        assert ALIAS in ticks(Path("out"))
    with chdir(tmp_path):  # no tiny.yaml here, where the report's relative path points
        moved = tmp_path / "out"
        moved.mkdir()
        for name in ("posterior.parquet", "summary.csv", "report.md"):
            (moved / name).write_bytes((project / "out" / name).read_bytes())
        # A relation's column is its alias, so it is named by kind and actors even here.
        assert ALIAS in ticks(moved)
        config = yaml.safe_load((project / "tiny.yaml").read_text(encoding="utf-8"))
        gone = config | {"scenario": "nowhere.yaml"}
        (moved / "calibrate.yaml").write_text(yaml.safe_dump(gone), encoding="utf-8")
        assert ALIAS in ticks(moved)  # the config is found, its scenario is not
        other = config | {"priors": {OBEY: config["priors"][OBEY]}}
        (moved / "calibrate.yaml").write_text(yaml.safe_dump(other), encoding="utf-8")
        assert ALIAS in ticks(moved)  # a config of other priors is not this folder's
        (moved / "april.yaml").write_bytes(APRIL.read_bytes())  # its posterior is not by it
        stale = config | {"scenario": "april.yaml"}
        (moved / "calibrate.yaml").write_text(yaml.safe_dump(stale), encoding="utf-8")
        assert ALIAS in ticks(moved)  # a scenario that no longer loads
        (moved / "calibrate.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        assert ALIAS in ticks(moved)
        (moved / "report.md").unlink()  # `sim calibrate --no-checks` writes no report
        (moved / "calibrate.yaml").unlink()
        assert ALIAS in ticks(moved)
