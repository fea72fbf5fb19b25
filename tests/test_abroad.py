"""Rung-2 strikes land abroad (issue 14 item 7): an actor that states the layers of its assets in
third countries (``abroad``, possibly none) meets strikes at rung 2 with those, never with its
homeland layers; without ``abroad`` every strike meets the homeland layers, as in version 1."""

import pytest

from sim.model.events import Interception, StrikeOutcome
from sim.model.rng import Streams
from sim.model.world import World
from sim.scenario.loading import parse_scenario
from tests.test_dynamics_errors import line_of, problems_of

WORLD = """\
version: 2
name: abroad
seed: 6
horizon_days: 2
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10,
           damage_usd_per_hit: 1000}}
actors:
  a:
    name: A
  b:
    name: B
    defence:
      - {{name: home dome, operator: b, kill_probability: {{rocket: 1.0}}, stock: 50,
         fire_channels: 50, engagement_minutes: 1, unit_cost_usd: 100}}{abroad}
opening:
  - {{day: 0, attacker: a, target: b, rung: {rung}, projectiles: {{rocket: 10}}}}
"""
OUTPOST = """
    abroad:
      - {name: outpost dome, operator: b, kill_probability: {rocket: 1.0}, stock: 4,
         fire_channels: 50, engagement_minutes: 1, unit_cost_usd: 100}"""


def run(abroad="", rung=2):
    return World(parse_scenario(WORLD.format(abroad=abroad, rung=rung)), Streams(6, 0)).run()


def outcome_and_layers(events):
    (outcome,) = [e for e in events if isinstance(e, StrikeOutcome)]
    met = {
        (e.layer, e.entered, e.intercepted, e.stock_after)
        for e in events
        if isinstance(e, Interception)
    }
    return (outcome.intercepted, outcome.leaked, outcome.damage_usd), met


@pytest.mark.parametrize(
    ("abroad", "rung", "expected"),
    [
        # no abroad stated: the homeland layer stops all ten (version 1)
        ("", 2, ((10, 0, 0.0), {("home dome", 10, 10, 40)})),
        # assets abroad without defences: all ten hit, no layer engages
        ("\n    abroad: []", 2, ((0, 10, 10000.0), set())),
        # the outpost's own layer: four interceptors, six hit
        (OUTPOST, 2, ((4, 6, 6000.0), {("outpost dome", 10, 4, 0)})),
        # a direct strike (rung 3) meets the homeland layers even with assets abroad
        (OUTPOST, 3, ((10, 0, 0.0), {("home dome", 10, 10, 40)})),
    ],
    ids=["no abroad", "undefended abroad", "defended abroad", "direct strike"],
)
def test_a_rung_2_strike_meets_the_defences_of_the_assets_abroad(abroad, rung, expected):
    assert outcome_and_layers(run(abroad, rung)) == expected


def test_the_layers_abroad_keep_their_own_stock():
    """Two rung-2 strikes: the outpost's 4 interceptors are spent on the first, none on the
    second; the homeland stock is untouched by both."""
    text = WORLD.format(abroad=OUTPOST, rung=2) + (
        "  - {day: 1, attacker: a, target: b, rung: 2, projectiles: {rocket: 10}}\n"
    )
    world = World(parse_scenario(text), Streams(6, 0))
    events = world.run()
    leaked = [e.leaked for e in events if isinstance(e, StrikeOutcome)]
    assert leaked == [6, 10]
    assert [s.stock for s in world.layers["b"]] == [50]
    assert [s.stock for s in world.abroad["b"]] == [0]


def test_an_ally_without_a_defends_relation_cannot_operate_a_layer_abroad(tmp_path):
    text = WORLD.format(abroad=OUTPOST.replace("operator: b", "operator: a"), rung=2)
    (problem,) = problems_of(tmp_path, text)
    assert problem == (
        f"{tmp_path / 'bad.yaml'}:{line_of(text, 'outpost dome')}: actors.b.abroad[0].operator: "
        "'a' operates a layer abroad for 'b' but no 'defends' relation says 'a' protects 'b'"
    )


def test_a_layer_abroad_naming_an_unknown_weapon_is_refused(tmp_path):
    text = WORLD.format(
        abroad=OUTPOST.replace("{rocket: 1.0}, stock: 4", "{rockit: 1.0}, stock: 4"), rung=2
    )
    (problem,) = problems_of(tmp_path, text)
    assert problem == (
        f"{tmp_path / 'bad.yaml'}:{line_of(text, 'outpost dome')}: "
        "actors.b.abroad[0].kill_probability.rockit: unknown weapon 'rockit' (known: rocket)"
    )
