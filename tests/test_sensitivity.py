"""Sobol indices: the known indices of the Ishigami function, and a scenario study's shape."""

from pathlib import Path

import numpy as np
import pytest

from sim.results import ResultsError
from sim.sensitivity import Uncertain, scenario_sensitivity, sobol

APRIL = Path(__file__).parents[1] / "scenarios" / "april-2024.yaml"


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[0]) + a * np.sin(x[1]) ** 2 + b * x[2] ** 4 * np.sin(x[0])


def test_recovers_the_ishigami_indices():
    table = sobol(ishigami, [(-np.pi, np.pi)] * 3, n=2048, seed=1, names=["x1", "x2", "x3"])
    assert np.allclose(table.first_order, [0.3139, 0.4424, 0.0], atol=0.04)
    assert np.allclose(table.total, [0.5576, 0.4424, 0.2437], atol=0.04)
    assert (table.first_order_low <= table.first_order).all()
    assert (table.total <= table.total_high).all()


def test_scenario_sensitivity_ranks_a_lever_that_matters_above_one_that_cannot():
    table = scenario_sensitivity(
        APRIL,
        [
            Uncertain.parse("relations.4.pressure=0:1"),
            Uncertain.parse("weapons.drone.unit_cost_usd=1000:100000"),
        ],
        "strike:israel>iran>=3",
        n=16,
        replications=8,
        seed=2,
    ).set_index("parameter")
    assert table.loc["relations.4.pressure", "total"] > 0.2
    assert table.loc["weapons.drone.unit_cost_usd", "total"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("text", ["a", "a=1", "a=2:1", "a=x:y"])
def test_malformed_uncertain_values_are_refused(text):
    with pytest.raises(ResultsError, match="PATH=LOW:HIGH"):
        Uncertain.parse(text)
