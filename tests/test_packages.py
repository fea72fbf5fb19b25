"""Packages as choices (issue 14 item 8): the package for a rung can be one of several options,
chosen with fixed chances shifted by the thwarted share of the strike answered; an option can be
telegraphed or not, and so can an ordered proxy strike."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.model.events import (
    DecisionMade,
    PackageChosen,
    StrikeLaunched,
    StrikeOutcome,
    WaveLaunched,
)
from sim.model.policies import Observation, choose_option, decide, option_chances
from sim.model.rng import Streams
from sim.model.trace import format_trace
from sim.model.world import World, run_replication
from sim.scenario.loading import parse_scenario
from sim.scenario.schema import Policy, StrikePackage
from tests.test_dynamics_errors import line_of, problems_of
from tests.test_world import FOUR

MIXED = {"name": "mixed", "probability": 0.5, "projectiles": {"drone": 10, "ballistic": 2}}
BALLISTIC = {"name": "ballistic", "probability": 0.5, "projectiles": {"ballistic": 6}}


def choice(mixed=None, ballistic=None) -> StrikePackage:
    options = [{**MIXED, **(mixed or {})}, {**BALLISTIC, **(ballistic or {})}]
    return StrikePackage.model_validate({"options": options}, strict=False)


CHANCE_CASES = [
    # mixed changes, ballistic changes, intercepted share, chances (mixed, ballistic)
    ({}, {}, 0.0, [0.5, 0.5]),
    ({}, {}, 1.0, [0.5, 0.5]),
    ({}, {"thwarted_shift": math.log(3)}, 0.0, [0.5, 0.5]),
    ({}, {"thwarted_shift": math.log(3)}, 1.0, [0.25, 0.75]),
    ({"probability": 0.8}, {"probability": 0.2, "thwarted_shift": math.log(4)}, 1.0, [0.5, 0.5]),
    ({"probability": 1.0}, {"probability": 0.0, "thwarted_shift": 10.0}, 1.0, [1.0, 0.0]),
]


@pytest.mark.parametrize(("mixed", "ballistic", "share", "chances"), CHANCE_CASES)
def test_the_chance_of_each_option(mixed, ballistic, share, chances):
    assert option_chances(choice(mixed, ballistic), share) == pytest.approx(chances)


@pytest.mark.parametrize(
    ("u", "name", "chance"),
    [(0.0, "mixed", 0.25), (0.2499, "mixed", 0.25), (0.25, "ballistic", 0.75)],
)
def test_one_uniform_draw_picks_the_option(u, name, chance):
    package = choice(ballistic={"thwarted_shift": math.log(3)})
    option, p = choose_option(package, 1.0, u)
    assert (option.name, p) == (name, pytest.approx(chance))


@given(u=st.floats(0, 1, exclude_max=True), share=st.floats(0, 1))
def test_an_option_of_chance_zero_is_never_chosen(u, share):
    package = choice({"probability": 0.0, "thwarted_shift": 10.0}, {"probability": 1.0})
    assert choose_option(package, share, u)[0].name == "ballistic"


POLICY = {
    "base_response_probability": 1.0,
    "telegraph_probability": 0.0,
    "delay": {"median_days": 1.0, "sigma": 0.0},
}


def test_a_package_chosen_among_several():
    """After a strike it mostly thwarted, the actor answers with the surprise ballistic package
    (chance 0.75 at share 1), not announced; the same draws at share 0 choose the mixed one,
    telegraphed as that option says."""
    packages = {
        3: {
            "options": [
                {**MIXED, "telegraphed": True},
                {**BALLISTIC, "thwarted_shift": math.log(3), "telegraphed": False},
            ]
        }
    }
    policy = Policy.model_validate({**POLICY, "packages": packages}, strict=False)
    arsenal = {"drone": 100, "ballistic": 100}
    seed = next(s for s in range(100) if 0.25 <= _fifth_draw(s) < 0.5)
    thwarted, not_thwarted = (
        decide(
            policy,
            Observation("iran", "israel", 3, intercepted_share=share),
            domestic_pressure=0.0,
            arsenal=arsenal,
            rng=np.random.default_rng(seed),
        )
        for share in (1.0, 0.0)
    )
    assert (thwarted.option, thwarted.option_probability) == ("ballistic", pytest.approx(0.75))
    assert (thwarted.projectiles, thwarted.telegraphed) == ({"ballistic": 6}, False)
    assert (not_thwarted.option, not_thwarted.option_probability) == ("mixed", 0.5)
    assert not_thwarted.projectiles == {"drone": 10, "ballistic": 2} and not_thwarted.telegraphed


def _fifth_draw(seed: int) -> float:
    """The uniform a decision without signals reads to choose an option: after its six."""
    rng = np.random.default_rng(seed)
    rng.random(4), rng.standard_normal(2)
    return float(rng.random())


def test_a_single_package_draws_no_option_and_is_sent_as_it_is():
    policy = Policy.model_validate(
        {**POLICY, "packages": {3: {"projectiles": {"drone": 4}}}}, strict=False
    )
    rng, fresh = np.random.default_rng(9), np.random.default_rng(9)
    decision = decide(
        policy, Observation("b", "a", 3), domestic_pressure=0, arsenal={"drone": 9}, rng=rng
    )
    fresh.random(4), fresh.standard_normal(2)
    assert (decision.option, decision.projectiles) == ("", {"drone": 4})
    assert rng.random() == fresh.random()


WORLD = """\
version: 2
name: packages
seed: 4
horizon_days: 3
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
  missile: {{flight_time: {{min_hours: 0.2, mode_hours: 0.2, max_hours: 0.2}}, unit_cost_usd: 10}}
actors:
  a:
    name: A
  b:
    name: B
    arsenal: {{rocket: 100, missile: 100}}
    policy:
      base_response_probability: 1
      delay: {{median_days: 1, sigma: 0}}
      packages:
        3:
          options:
            - {{name: salvo, probability: {salvo}, projectiles: {{rocket: 5, missile: 1}},
               telegraphed: true}}
            - {{name: surprise, probability: {surprise}, projectiles: {{missile: 3}}}}
opening:
  - {{day: 0, attacker: a, target: b, rung: 3}}
"""


def t(hours: float):
    """A time on the run's clock, hours, to the engine's time bins (under a minute)."""
    return pytest.approx(hours, abs=0.01)


def test_exact_log_of_an_answer_with_the_package_chosen():
    """b answers a's strike with its telegraphed salvo (chance 1): the decision, the package
    chosen, then the strike a day later with the salvo's waves timed to arrive together."""
    events = World(parse_scenario(WORLD.format(salvo=1, surprise=0)), Streams(4, 0)).run()
    salvo = (("missile", 1), ("rocket", 5))
    assert events == [
        StrikeLaunched(0.0, 1, "a", "b", 3, False, "opening", ()),
        StrikeOutcome(0.0, 1, "a", "b", 3, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0),
        DecisionMade(
            0.0,
            "b",
            1,
            "struck",
            "a",
            3,
            0,
            0.0,
            0.0,
            0.0,
            0.0,
            pytest.approx(1.0),
            True,
            "a",
            3,
            24.0,
            True,
            salvo,
        ),
        PackageChosen(0.0, "b", 1, 3, "salvo", 1.0),
        StrikeLaunched(24.0, 2, "b", "a", 3, True, "struck", salvo),
        WaveLaunched(24.0, 2, "missile", 1, 24.0, t(24.2), t(24.2)),
        WaveLaunched(24.0, 2, "rocket", 5, t(24.1), t(24.2), t(24.2)),
        StrikeOutcome(t(24.2), 2, "b", "a", 3, 6, 0, 0, 6, 0, 0.0, 60.0, 0.0),
    ]
    assert "b sends package salvo (chance 1.00) at rung 3" in format_trace(events, "packages")


def test_the_other_option_is_sent_unannounced():
    events = run_replication(parse_scenario(WORLD.format(salvo=0, surprise=1)), 0)
    (chosen,) = [e for e in events if isinstance(e, PackageChosen)]
    answer = next(e for e in events if isinstance(e, StrikeLaunched) and e.attacker == "b")
    assert (chosen.package, answer.telegraphed, answer.projectiles) == (
        "surprise",
        False,
        (("missile", 3),),
    )


def test_over_many_runs_each_option_is_chosen_about_as_often_as_its_chance():
    scenario = parse_scenario(WORLD.format(salvo=0.3, surprise=0.7))
    names = [
        next(e.package for e in run_replication(scenario, r) if isinstance(e, PackageChosen))
        for r in range(400)
    ]
    share = names.count("salvo") / len(names)
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 400)  # within 4 standard errors


def test_an_ordered_proxy_strike_can_be_telegraphed():
    text = FOUR.format(order=1, obey=1, rung=3).replace(
        "ordered_rung: 5}", "ordered_rung: 5, telegraph_probability: 1}"
    )
    strikes = [e for e in run_replication(parse_scenario(text), 0) if isinstance(e, StrikeLaunched)]
    assert [(s.attacker, s.cause, s.telegraphed) for s in strikes] == [
        ("pat", "opening", False),
        ("prox", "ordered by patron", True),
    ]


def test_an_ordered_proxy_chooses_among_its_options_and_logs_it():
    text = FOUR.format(order=1, obey=1, rung=3).replace(
        "4: {projectiles: {rocket: 8}}",
        "4: {options: [{name: barrage, probability: 1, projectiles: {rocket: 8},"
        " telegraphed: true}, {name: raid, probability: 0}]}",
    )
    events = run_replication(parse_scenario(text), 0)
    assert PackageChosen(48.0, "prox", 1, 4, "barrage", 1.0) in events
    proxy = next(e for e in events if isinstance(e, StrikeLaunched) and e.attacker == "prox")
    assert (proxy.telegraphed, proxy.projectiles) == (True, (("rocket", 8),))


BAD_CASES = [
    (
        "probability: {salvo}",
        "probability: 1.5",
        "options[0].probability",
        "must be <= 1.0, got 1.5",
    ),
    (
        "probability: {salvo}",
        "probability: -0.5",
        "options[0].probability",
        "must be >= 0.0, got -0.5",
    ),
    (
        "probability: {surprise}",
        "probability: 0.5",
        "",
        "the options' probabilities must sum to 1, got 1.5",
    ),
    (
        "          options:",
        "          projectiles: {{rocket: 1}}\n          options:",
        "",
        "with options, leave out the package's own projectiles",
    ),
    (
        "projectiles: {{missile: 3}}",
        "projectiles: {{rockit: 3}}",
        "options[1].projectiles.rockit",
        "unknown weapon 'rockit' (known: missile, rocket)",
    ),
]


@pytest.mark.parametrize(("old", "new", "field", "message"), BAD_CASES)
def test_a_bad_package_choice_names_its_file_line_and_field(tmp_path, old, new, field, message):
    text = WORLD.replace(old, new).format(salvo=1, surprise=0)
    (problem,) = problems_of(tmp_path, text)
    where = f"actors.b.policy.packages[3]{'.' + field if field else ''}"
    fragment = {"options[0].probability": "name: salvo", "options[1].projectiles.rockit": "rockit"}
    line = line_of(text, fragment.get(field, "3:"))
    assert problem == f"{tmp_path / 'bad.yaml'}:{line}: {where}: {message}"


def test_package_and_unclaimed_records_go_into_the_events_table():
    """The new record kinds table under the one events schema, with their own columns."""
    from sim.model.events import EVENT_SCHEMA, events_arrow

    signals = "\n      signals: {claim_probability: 0}"
    text = WORLD.format(salvo=1, surprise=0).replace(
        "      packages:\n", signals + "\n      packages:\n", 1
    )
    table = events_arrow([(0, run_replication(parse_scenario(text), 0))])
    assert table.schema.equals(EVENT_SCHEMA)
    rows = {row["kind"]: row for row in table.to_pylist()}
    assert (rows["package"]["package"], rows["package"]["probability"]) == ("salvo", 1.0)
    assert (rows["unclaimed"]["strike_id"], rows["unclaimed"]["attacker"]) == (2, "b")


def test_a_choice_survives_a_dump_and_back():
    """A package with options is rebuilt from its own dump (which writes the package's unused
    means at their defaults), as a posterior check and a study copy rebuild it; a mean set to
    anything else beside options is still refused."""
    choice = {
        "options": [
            {"name": "salvo", "probability": 0.6, "projectiles": {"rocket": 3}},
            {"name": "quiet", "probability": 0.4, "projectiles": {"rocket": 1}},
        ]
    }
    package = StrikePackage.model_validate(choice)
    assert StrikePackage.model_validate(package.model_dump()) == package
    assert StrikePackage.model_validate_json(package.model_dump_json()) == package
    with pytest.raises(ValueError, match="leave out the package's own casualties_mean"):
        StrikePackage.model_validate({**choice, "casualties_mean": 2.0})
