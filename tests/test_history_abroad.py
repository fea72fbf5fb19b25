"""A history strike at rung 2 on an actor with assets abroad drew the interceptors of the layers
abroad, as a flown rung-2 strike would meet them: its interceptors leave those layers' stocks,
never the homeland's (they did, before this was fixed)."""

import pytest

from sim.model.rng import Streams
from sim.model.world import World
from sim.scenario.loading import parse_scenario

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
