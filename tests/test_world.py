"""Tiny hand-built worlds with exact event logs, and properties of the shipped scenarios."""

from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim.model.events import (
    DecisionMade,
    HistoryStruck,
    Interception,
    ParametersDrawn,
    StrikeCapReached,
    StrikeLaunched,
    StrikeOutcome,
    WaveLaunched,
)
from sim.model.rng import Streams
from sim.model.strikes import coordinated_waves
from sim.model.world import World, run_replication
from sim.scenario.loading import load_scenario, parse_scenario
from sim.scenario.problems import ScenarioError
from sim.scenario.schema import FlightTime, Weapon

SCENARIOS = sorted((Path(__file__).parents[1] / "scenarios").glob("*.yaml"))
APRIL = load_scenario(SCENARIOS[0].parent / "april-2024.yaml")

TINY = """\
name: tiny
seed: 1
horizon_days: 30
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  a:
    name: A
    arsenal: {{rocket: 100}}
    policy:
      base_response_probability: {respond_a}
      delay: {{median_days: 2, sigma: 0}}
      packages: {{3: {{projectiles: {{rocket: 5}}}}}}
  b:
    name: B
    arsenal: {{rocket: 100}}
    defence:
      - {{name: dome, operator: b, kill_probability: {{rocket: 1.0}}, stock: {stock},
         fire_channels: 50, engagement_minutes: 1, engagement_window_minutes: 10,
         unit_cost_usd: 100{resupply}}}
    policy:
      base_response_probability: {respond_b}
      delay: {{median_days: 3, sigma: 0}}
      packages: {{3: {{projectiles: {{rocket: 4}}, casualties_mean: 0}}}}
relations:
  - {{kind: adversaries, actors: [a, b]}}
max_strikes: {max_strikes}
opening:
  - {{day: 1, attacker: a, target: b, rung: 3, casualties: 2, projectiles: {{rocket: 6}}}}
"""


def tiny(respond_a=0, respond_b=1, stock=100, max_strikes=200, resupply=""):
    return parse_scenario(
        TINY.format(
            respond_a=respond_a,
            respond_b=respond_b,
            stock=stock,
            max_strikes=max_strikes,
            resupply=resupply,
        )
    )


def test_exact_log_of_a_strike_and_a_certain_response():
    events = run_replication(tiny(), 0)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "StrikeLaunched",
        "WaveLaunched",
        "Interception",
        "StrikeOutcome",
        "DecisionMade",
        "StrikeLaunched",
        "WaveLaunched",
        "StrikeOutcome",
        "DecisionMade",
    ]
    opening, wave, intercepted, outcome, decision, answer, answer_wave, answered, last = events
    assert opening.time_hours == 24.0 and opening.projectiles == (("rocket", 6),)
    assert wave == WaveLaunched(24.0, 1, "rocket", 6, 24.0, 24.1, 24.1)
    assert answer.projectiles == (("rocket", 4),)
    assert answer_wave == WaveLaunched(
        answer.time_hours, 2, "rocket", 4, answer.time_hours, *[answer.time_hours + 0.1] * 2
    )
    assert intercepted.intercepted == 6 and intercepted.interceptors_fired == 6
    assert (outcome.launched, outcome.intercepted, outcome.leaked) == (6, 6, 0)
    assert outcome.casualties == 2 and outcome.defender_cost_usd == 600.0
    assert decision.actor == "b" and decision.respond and decision.respond_probability > 0.99
    assert answer.time_hours == pytest.approx(decision.time_hours + 72.0)
    assert (answer.attacker, answer.target, answer.rung) == ("b", "a", 3)
    assert answered.leaked == 4
    assert last.actor == "a" and not last.respond


def test_no_response_when_the_policy_never_responds():
    events = run_replication(tiny(respond_b=0), 0)
    assert sum(isinstance(e, StrikeLaunched) for e in events) == 1
    assert [e.respond for e in events if isinstance(e, DecisionMade)] == [False]


def test_strike_cap_stops_an_endless_exchange():
    events = run_replication(tiny(respond_a=1, respond_b=1, max_strikes=5), 0)
    assert sum(isinstance(e, StrikeLaunched) for e in events) == 5
    assert sum(isinstance(e, StrikeCapReached) for e in events) == 1
    assert all(e.time_hours <= 30 * 24 for e in events)


def interceptions(events):
    return [(e.interceptors_fired, e.stock_after) for e in events if isinstance(e, Interception)]


def test_stocks_deplete_across_strikes_without_resupply():
    # a's strikes of 6 then 5 rockets meet b's 10 interceptors: 6 fired, then the last 4, then none
    events = run_replication(tiny(respond_a=1, respond_b=1, stock=10), 0)
    assert interceptions(events)[:4] == [(6, 4), (4, 0), (0, 0), (0, 0)]


def test_resupply_adds_stock_at_its_interval():
    events = run_replication(
        tiny(
            respond_a=1,
            respond_b=1,
            stock=10,
            resupply=", resupply: {interceptors: 50, every_days: 3}",
        ),
        0,
    )
    times = [e.time_hours for e in events if isinstance(e, Interception)]
    # 10 - 6 = 4; +50 at 72 h and 144 h, -5 at 144.3 h; +50 at 216 h, -5; +50 twice, -5
    assert [t // 72 for t in times[:4]] == [0, 2, 3, 5]
    assert interceptions(events)[:4] == [(6, 4), (5, 99), (5, 144), (5, 239)]


def test_proxy_ordered_in_and_ally_joining():
    scenario = load_scenario(
        SCENARIOS[0].parent / "april-2024.yaml",
        {
            "actors.iran.policy.proxy_order_probability": 1.0,
            "proxy[hezbollah>iran].obey_probability": 1.0,
            "actors.iran.policy.base_response_probability": 1.0,
            "actors.iran.policy.escalate_probability": 1.0,
            "actors.iran.policy.self_restraint": 0.0,
            "actors.iran.policy.deescalate_probability": 0.0,
        },
    )
    events = run_replication(scenario, 0)
    iran_strike = next(e for e in events if isinstance(e, StrikeLaunched) and e.attacker == "iran")
    joined = [e for e in events if isinstance(e, StrikeLaunched) and e.attacker == "hezbollah"]
    assert joined and joined[0].time_hours == iran_strike.time_hours
    assert joined[0].cause == "ordered by patron" and joined[0].rung == 4


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_shipped_scenario_loads_and_runs(path):
    """A scenario with an opening starts with it at hour 0; one that starts mid-way (a history,
    no opening) logs its history strikes first (after the parameters it drew) and flies no
    opening."""
    scenario = load_scenario(path)
    events = run_replication(scenario, 0)
    strikes = [e for e in events if isinstance(e, StrikeLaunched)]
    if scenario.opening:
        assert strikes[0].cause == "opening" and strikes[0].time_hours == 0.0
    else:
        logged = [e for e in events if not isinstance(e, ParametersDrawn)]
        history = [e for e in logged if isinstance(e, HistoryStruck)]
        assert len(history) == len(scenario.history) and history == logged[: len(history)]
        assert all(s.cause != "opening" for s in strikes)
    times = [e.time_hours for e in events]
    assert times == sorted(times) and times[-1] <= scenario.horizon_days * 24


SHIPPED = {path.name: load_scenario(path) for path in SCENARIOS}


def assert_every_projectile_accounted_for(events: list) -> None:
    """Each strike's totals agree with its launch order and with what each layer logged.

    A strike's waves carry what its order listed, one wave per weapon, each launched before it
    arrives; its outcome launches that; what it intercepted is what its layers
    logged as intercepted; and for each weapon, what enters a layer is what entered the layer
    before it less what that layer intercepted, never more than flew. (The outcome's own
    ``launched = failed + intercepted + leaked`` holds by construction and proves nothing.)
    """
    ordered = {e.strike_id: dict(e.projectiles) for e in events if isinstance(e, StrikeLaunched)}
    waves: dict[int, dict[str, int]] = {}
    for wave in (e for e in events if isinstance(e, WaveLaunched)):
        assert wave.weapon not in waves.setdefault(wave.strike_id, {})  # one wave per weapon
        assert wave.time_hours <= wave.launch_hours <= wave.first_arrival_hours
        assert wave.first_arrival_hours <= wave.last_arrival_hours
        waves[wave.strike_id][wave.weapon] = wave.count
    assert all(
        waves.get(k, {}) == {w: n for w, n in mix.items() if n} for k, mix in ordered.items()
    )
    layers: dict[int, list[Interception]] = {}
    for event in (e for e in events if isinstance(e, Interception)):
        layers.setdefault(event.strike_id, []).append(event)
    for outcome in (e for e in events if isinstance(e, StrikeOutcome)):
        logged = layers.get(outcome.strike_id, [])
        assert outcome.launched == sum(ordered[outcome.strike_id].values())
        assert outcome.intercepted == sum(e.intercepted for e in logged)
        assert min(outcome.failed, outcome.leaked, outcome.intercepted) >= 0
        flying = outcome.launched - outcome.failed
        for weapon in {e.weapon for e in logged}:
            chain = [e for e in logged if e.weapon == weapon]
            assert chain[0].entered <= flying
            assert all(0 <= e.intercepted <= e.engaged <= e.entered for e in chain)
            for before, after in pairwise(chain):
                assert after.entered == before.entered - before.intercepted


_HOURS = st.floats(1e-3, 1e3, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    start_hours=st.floats(0, 1e6, allow_nan=False),
    modes=st.lists(_HOURS, min_size=1, max_size=5),
    counts=st.lists(st.integers(1, 500), min_size=5, max_size=5),
)
@example(start_hours=252.6088410018117, modes=[2.0, 9.0], counts=[1, 1, 1, 1, 1])
def test_no_wave_leaves_before_its_strike_and_all_modes_coincide(start_hours, modes, counts):
    """Waves are timed so their modal arrivals coincide; the slowest weapon leaves exactly when
    the strike does and none leaves earlier, whatever the float rounding of the offsets."""
    weapons = {
        f"w{i}": Weapon(
            flight_time=FlightTime(min_hours=m, mode_hours=m, max_hours=m), unit_cost_usd=0
        )
        for i, m in enumerate(modes)
    }
    waves = coordinated_waves(dict(zip(weapons, counts, strict=False)), weapons, start_hours)
    assert min(w.launch_hours for w in waves) == start_hours
    assert all(w.launch_hours >= start_hours for w in waves)
    arrivals = [w.launch_hours + w.flight.mode_hours for w in waves]
    assert max(arrivals) - min(arrivals) <= 1e-9 * max(1.0, start_hours + max(modes))


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(SHIPPED)),
    seed=st.integers(0, 2**31),
    replication=st.integers(0, 10**6),
)
@example(name="april-2024-point.yaml", seed=365, replication=5696)  # a wave left before its strike
def test_properties_of_the_shipped_scenarios(name, seed, replication):
    """Same seed, same log; every projectile launched is accounted for; stocks never go negative
    and, with no resupply in these scenarios, never grow."""
    scenario = SHIPPED[name]
    assert not any(layer.resupply for a in scenario.actors.values() for layer in a.defence)
    events = run_replication(scenario, replication, seed)
    assert events == run_replication(scenario, replication, seed)
    assert_every_projectile_accounted_for(events)
    last_stock = {}
    for event in (e for e in events if isinstance(e, Interception)):
        assert event.stock_after >= 0
        key = (event.defended, event.layer)
        assert event.stock_after <= last_stock.get(key, event.stock_after)
        last_stock[key] = event.stock_after
    times = [e.time_hours for e in events]
    assert times == sorted(times) and times[-1] <= scenario.horizon_days * 24


@settings(max_examples=60, deadline=None)
@given(
    stock=st.integers(0, 40),
    supply=st.integers(1, 30),
    every_days=st.sampled_from([0.5, 1.3, 2.7, 4.0, 9.5]),
    respond_a=st.floats(0, 1),
    respond_b=st.floats(0, 1),
    seed=st.integers(0, 2**31),
)
def test_interceptor_ledger_with_resupply(stock, supply, every_days, respond_a, respond_b, seed):
    """With resupply, each layer's stock is exactly its start, plus every delivery so far, minus
    every interceptor fired; never negative; and every projectile is accounted for."""
    scenario = tiny(
        respond_a=respond_a,
        respond_b=respond_b,
        stock=stock,
        resupply=f", resupply: {{interceptors: {supply}, every_days: {every_days}}}",
    )
    events = run_replication(scenario, 0, seed)
    assert events == run_replication(scenario, 0, seed)
    fired = 0
    for event in (e for e in events if isinstance(e, Interception)):
        fired += event.interceptors_fired
        deliveries = int(event.time_hours // (every_days * 24))
        assert event.stock_after == stock + supply * deliveries - fired >= 0
    assert_every_projectile_accounted_for(events)


CERTAIN = 1.0 / (1.0 + 1e-9 / (1 - 1e-9))  # base_response_probability 1, clipped away from 1
NEVER = 1.0 / (1.0 + (1 - 1e-9) / 1e-9)  # base_response_probability 0, clipped away from 0

TWO = """\
name: two
seed: 5
horizon_days: {horizon}
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  a:
    name: A
    policy:
      base_response_probability: 0
      delay: {{median_days: 1, sigma: 0}}
      packages: {{2: {{casualties_mean: 0}}}}
  b:
    name: B
    policy:
      base_response_probability: 1
      escalate_probability: 0
      deescalate_probability: 0
      delay: {{median_days: 2.5, sigma: 0}}
      packages: {{2: {{casualties_mean: 0, damage_usd_mean: 1000, cost_usd: 50}}}}
opening:
  - {{day: 1, attacker: a, target: b, rung: 2, casualties: 7, damage_usd: 300,
      description: raid}}
"""


def decision(time, actor, strike, attacker, rung, casualties, damage, p, respond, target, delay):
    return DecisionMade(
        time_hours=time,
        actor=actor,
        trigger_strike_id=strike,
        reason="struck",
        attacker=attacker,
        observed_rung=rung,
        casualties=casualties,
        damage_usd=damage,
        intercepted_share=0.0,
        ally_pressure=0.0,
        domestic_pressure=0.0,
        respond_probability=p,
        respond=respond,
        target=target,
        rung=rung,
        delay_hours=delay,
        telegraphed=False,
    )


def test_exact_log_of_an_opening_and_a_certain_delayed_answer():
    events = run_replication(parse_scenario(TWO.format(horizon=30)), 0)
    assert events == [
        StrikeLaunched(24.0, 1, "a", "b", 2, False, "opening", (), "raid"),
        StrikeOutcome(24.0, 1, "a", "b", 2, 0, 0, 0, 0, 7, 300.0, 0.0, 0.0),
        decision(24.0, "b", 1, "a", 2, 7, 300.0, pytest.approx(CERTAIN), True, "a", 60.0),
        StrikeLaunched(84.0, 2, "b", "a", 2, False, "struck", ()),
        StrikeOutcome(84.0, 2, "b", "a", 2, 0, 0, 0, 0, 0, 1000.0, 50.0, 0.0),
        decision(84.0, "a", 2, "b", 2, 0, 1000.0, pytest.approx(NEVER), False, "b", 24.0),
    ]


def test_the_horizon_cuts_off_an_answer_due_after_it():
    events = run_replication(parse_scenario(TWO.format(horizon=3)), 0)  # answer due at 84 h > 72 h
    assert [type(e).__name__ for e in events] == ["StrikeLaunched", "StrikeOutcome", "DecisionMade"]
    # An opening after the horizon is refused by the schema; one built past validation logs nothing.
    late = parse_scenario(TWO.format(horizon=3)).model_copy(update={"horizon_days": 0.5})
    assert run_replication(late, 0) == []
    with pytest.raises(ScenarioError, match=r"opening\[0\]\.day"):
        parse_scenario(TWO.format(horizon=0.5))


def test_the_strike_cap_is_recorded_once_when_it_stops_a_strike():
    events = run_replication(tiny(respond_a=1, respond_b=1, max_strikes=3), 0)
    launched = [e for e in events if isinstance(e, StrikeLaunched)]
    (cap,) = [e for e in events if isinstance(e, StrikeCapReached)]
    assert [e.strike_id for e in launched] == [1, 2, 3] and cap.max_strikes == 3
    # The cap is hit by the fourth strike: b's answer to a's third, 72 h (b's delay) after it.
    third_outcome = next(e for e in events if isinstance(e, StrikeOutcome) and e.strike_id == 3)
    assert (launched[2].attacker, third_outcome.target) == ("a", "b")
    assert cap.time_hours == pytest.approx(third_outcome.time_hours + 72.0)
    assert all(e.time_hours <= 30 * 24 for e in events)


FOUR = """\
name: four
seed: 3
horizon_days: 10
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  pat:
    name: Patron
    policy:
      base_response_probability: 0
      proxy_order_probability: {order}
      delay: {{median_days: 1, sigma: 0}}
      packages: {{3: {{casualties_mean: 0}}}}
  prox:
    name: Proxy
    arsenal: {{rocket: 100}}
    policy:
      base_response_probability: 0
      max_rung: 4
      delay: {{median_days: 1, sigma: 0}}
      packages: {{1: {{projectiles: {{rocket: 3}}}}, 4: {{projectiles: {{rocket: 8}}}}}}
  foe:
    name: Foe
    policy:
      base_response_probability: 0
      delay: {{median_days: 1, sigma: 0}}
      packages: {{2: {{casualties_mean: 0}}}}
  guard:
    name: Guard
    policy:
      base_response_probability: 0
      delay: {{median_days: 1, sigma: 0}}
      packages: {{2: {{casualties_mean: 0}}}}
relations:
  - {{kind: proxy, proxy: prox, patron: pat, obey_probability: {obey}, ordered_rung: 5}}
  - {{kind: defends, ally: guard, protects: foe, joins_combat_at_rung: 3}}
opening:
  - {{day: 2, attacker: pat, target: foe, rung: {rung}, casualties: 4}}
"""


def four(order=1, obey=1, rung=3):
    return run_replication(parse_scenario(FOUR.format(order=order, obey=obey, rung=rung)), 0)


def test_a_patron_orders_its_proxy_in_and_the_proxy_obeys():
    events = four()
    strikes = [e for e in events if isinstance(e, StrikeLaunched)]
    assert [(s.strike_id, s.attacker, s.rung, s.cause, s.time_hours) for s in strikes] == [
        (1, "pat", 3, "opening", 48.0),
        (2, "prox", 4, "ordered by patron", 48.0),  # ordered at 5, capped by its max_rung
    ]
    assert strikes[1].projectiles == (("rocket", 8),)
    (order,) = [e for e in events if isinstance(e, DecisionMade) and e.actor == "prox"]
    assert (order.reason, order.trigger_strike_id, order.respond) == ("ordered by patron", 1, True)
    assert (order.respond_probability, order.delay_hours, order.target) == (1.0, 0.0, "foe")


@pytest.mark.parametrize(
    ("order", "obey", "rung", "decides", "joins"),
    [(1, 0, 3, True, False), (0, 1, 3, False, False), (1, 1, 2, False, False)],
    ids=["proxy disobeys", "patron never orders", "below a direct strike"],
)
def test_no_proxy_strike_unless_ordered_and_obeying(order, obey, rung, decides, joins):
    events = four(order=order, obey=obey, rung=rung)
    proxy_decisions = [e for e in events if isinstance(e, DecisionMade) and e.actor == "prox"]
    assert len(proxy_decisions) == int(decides)
    assert any(isinstance(e, StrikeLaunched) and e.attacker == "prox" for e in events) == joins


@pytest.mark.parametrize(("rung", "joins"), [(2, False), (3, True), (4, True)])
def test_a_defending_ally_joins_from_its_rung(rung, joins):
    events = four(order=0, rung=rung)
    deciders = [(e.actor, e.reason) for e in events if isinstance(e, DecisionMade)]
    expected = [("foe", "struck")] + ([("guard", "ally foe struck")] if joins else [])
    assert deciders == expected


def test_no_decision_is_logged_before_the_strike_that_triggered_it():
    events = four()
    launched_at = {e.strike_id: i for i, e in enumerate(events) if isinstance(e, StrikeLaunched)}
    for index, event in enumerate(events):
        if isinstance(event, DecisionMade):
            assert launched_at[event.trigger_strike_id] < index, event


class LogThatCountsReads(list):
    """An event log that counts how often it is read whole (a scan costs the length of the log)."""

    reads = 0

    def __iter__(self):
        LogThatCountsReads.reads += 1
        return super().__iter__()


def test_a_launch_refused_by_the_strike_cap_does_not_scan_the_log():
    """Issue 15 item 16: each refused launch read the whole log, so a run cost the square of its
    strikes. Every refused launch must now cost the same whatever the length of the log."""
    world = World(tiny(respond_a=1, respond_b=1, max_strikes=3), Streams(1, 0))
    world.events = LogThatCountsReads()
    LogThatCountsReads.reads = 0
    events = world.run()
    reads_during_the_run = LogThatCountsReads.reads
    assert sum(isinstance(e, StrikeCapReached) for e in events) == 1
    assert reads_during_the_run == 0
