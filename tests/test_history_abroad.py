"""A history strike at rung 2 on an actor with assets abroad drew the interceptors of the layers
abroad, as a flown rung-2 strike would meet them: its interceptors leave those layers' stocks,
never the homeland's (they did, before this was fixed)."""

import pytest

from sim.model.rng import Streams
from sim.model.world import World
from sim.scenario.loading import load_scenario, parse_scenario
from sim.scenario.problems import ScenarioError

WORLD = """\
version: 2
name: history abroad
seed: 3
horizon_days: 2
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  a:
    name: A
    arsenal: {{rocket: 20}}
  b:
    name: B
    defence:
      - {{name: dome, operator: b, kill_probability: {{rocket: 0.5}}, stock: 50,
         fire_channels: 5, engagement_minutes: 1, unit_cost_usd: 100}}
    abroad:
      - {{name: dome, operator: b, kill_probability: {{rocket: 0.5}}, stock: 8,
         fire_channels: 5, engagement_minutes: 1, unit_cost_usd: 100}}
opening: []
history:
  - {{day: -2, attacker: a, target: b, rung: {rung}, projectiles: {{rocket: 6}}, intercepted: 3,
     interceptors_fired: {{dome: 5}}}}
"""


@pytest.mark.parametrize(
    ("rung", "homeland", "abroad"),
    [(2, 50, 3), (3, 45, 8)],
    ids=["rung 2: the layer abroad", "rung 3: the homeland layer"],
)
def test_a_history_strike_spends_the_layers_it_met(rung, homeland, abroad):
    world = World(parse_scenario(WORLD.format(rung=rung)), Streams(3, 0))
    world.run()
    assert [s.stock for s in world.layers["b"]] == [homeland]
    assert [s.stock for s in world.abroad["b"]] == [abroad]


@pytest.mark.parametrize(
    ("rung", "fired", "expected"),
    [
        (2, "{{wall: 1}}", "unknown abroad layer of b 'wall' (known: dome)"),
        (3, "{{moat: 1}}", "unknown homeland layer of b 'moat' (known: dome, wall)"),
        (2, "{{dome: 9}}", "the history spends 9 of b's dome but its stock holds 8"),
        (3, "{{dome: 9, wall: 1}}", None),
    ],
    ids=["rung 2 names a homeland-only layer", "rung 3 names an unknown layer",
         "rung 2 overspends the layer abroad", "rung 3 draws on the homeland stocks"],
)  # fmt: skip
def test_a_history_strike_names_and_spends_only_the_layers_it_met(tmp_path, rung, fired, expected):
    """The layers a history strike names are checked against those it met: abroad for rung 2,
    at home otherwise; a stock abroad and a homeland stock of the same name are apart."""
    wall = (
        "      - {{name: wall, operator: b, kill_probability: {{rocket: 0.5}}, stock: 5,\n"
        "         fire_channels: 5, engagement_minutes: 1, unit_cost_usd: 100}}\n"
    )
    text = WORLD.replace("    abroad:\n", wall + "    abroad:\n").replace("{{dome: 5}}", fired)
    path = tmp_path / "bad.yaml"
    path.write_text(text.format(rung=rung))
    if expected is None:
        load_scenario(path)
        return
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    (problem,) = caught.value.problems
    assert problem.field.startswith("history[0].interceptors_fired")
    assert expected in problem.message
