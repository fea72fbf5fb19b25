"""Properties of drawn scenarios with the version-2 mechanisms on: every projectile accounted for,
stocks never negative, accounts consistent, the same seed the same log."""

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.events import (
    AccountChanged,
    DecisionMade,
    HistoryStruck,
    Interception,
    RoundEnded,
    StrikeLaunched,
    Unclaimed,
)
from sim.model.world import run_replication
from sim.scenario.loading import parse_scenario
from tests.test_world import assert_every_projectile_accounted_for

unit = st.floats(0, 1)


@st.composite
def packages(draw):
    """One package of rockets, or a choice between two with drawn chances, shifts and signals."""
    if draw(st.booleans()):
        return {"projectiles": {"rocket": draw(st.integers(0, 12))}}
    first = draw(unit)
    return {
        "options": [
            {
                "name": name,
                "probability": chance,
                "projectiles": {"rocket": draw(st.integers(0, 12))},
                "thwarted_shift": draw(st.floats(-10, 10)),
                "telegraphed": draw(st.none() | st.booleans()),
            }
            for name, chance in (("one", first), ("other", 1.0 - first))
        ]
    }


@st.composite
def dynamic_scenarios(draw):
    """Three actors that strike one another with rockets after a drawn history, every one keeping
    a memory, choosing the height of its answers over all rungs and timing them by what it
    suffered, claiming them or not and choosing among packages, c a proxy of a that keeps a
    campaign against b, b with assets abroad (defended or not), in a round that can end by a
    ceasefire or settled, with strikes in the air at once sharing the defences."""
    actors = {}
    for name in ("a", "b", "c"):
        memory = {
            "account_weight": draw(st.floats(-10, 10)),
            "settle_tolerance": draw(st.floats(0, 6)),
            "weariness_weight": draw(st.floats(0, 10)),
        }
        actors[name] = {
            "name": name.upper(),
            "arsenal": {"rocket": draw(st.integers(15, 60))},
            "defence": [
                {
                    "name": "dome",
                    "operator": name,
                    "kill_probability": {"rocket": draw(unit)},
                    "stock": draw(st.integers(0, 40)),
                    "fire_channels": draw(st.integers(1, 5)),
                    "engagement_minutes": 1.0,
                    "unit_cost_usd": 1e5,
                }
            ],
            "policy": {
                "base_response_probability": draw(unit),
                "escalate_probability": draw(st.floats(0, 0.5)),
                "delay": {"median_days": draw(st.floats(0.05, 5)), "sigma": draw(st.floats(0, 1))},
                "packages": {
                    rung: draw(packages())
                    for rung in sorted(draw(st.sets(st.integers(0, 6), min_size=1, max_size=3)))
                },
                "memory": memory,
                "signals": {"attribution": draw(unit), "claim_probability": draw(unit)},
                "proxy_weight": draw(unit),
                "timing": {
                    "urgency": draw(st.floats(0, 5)),
                    "reference_severity": draw(st.floats(0, 12)),
                    "min_median_hours": draw(st.floats(0.1, 240)),
                    "max_median_days": draw(st.floats(10, 3650)),
                },
                "height": {
                    "spread": draw(st.floats(0.05, 5)),
                    "escalation_bias": draw(st.floats(-6, 6)),
                    "red_line_shift": draw(st.floats(-6, 6)),
                    "thwarted_shift": draw(st.floats(0, 6)),
                    "restraint_shift": draw(st.floats(0, 12)),
                    "self_restraint_shift": draw(st.floats(0, 12)),
                },
            },
        }
    actors["a"]["policy"]["proxy_order_probability"] = draw(unit)
    actors["b"]["abroad"] = [
        {**actors["b"]["defence"][0], "name": "outpost", "stock": stock}
        for stock in draw(st.lists(st.integers(0, 10), max_size=1))
    ]
    actors["c"]["policy"]["campaign"] = {
        "target": "b",
        "rate_per_day": draw(st.floats(0, 3)),
        "rung": draw(st.integers(0, 2)),
    }
    history = []
    for _ in range(draw(st.integers(0, 3))):
        attacker, target = draw(st.permutations(["a", "b", "c"]))[:2]
        launched = draw(st.integers(0, 5))
        failed = draw(st.integers(0, launched))
        history.append(
            {
                "day": draw(st.floats(-30, 0)),
                "attacker": attacker,
                "target": target,
                "rung": draw(st.integers(0, 6)),
                "projectiles": {"rocket": launched},
                "failed": failed,
                "intercepted": draw(st.integers(0, launched - failed)),
                "casualties": draw(st.integers(0, 50)),
                "claimed": draw(st.booleans()),
            }
        )
    scenario = {
        "name": "drawn",
        "history": history,
        "seed": draw(st.integers(0, 2**31)),
        "horizon_days": 20.0,
        "max_strikes": 40,
        "severity": {"harm_weight": draw(st.floats(0, 5))},
        "weapons": {
            "rocket": {
                "flight_time": {"min_hours": 0.1, "mode_hours": 0.2, "max_hours": 0.4},
                "unit_cost_usd": 100.0,
                "casualties_per_hit": draw(st.floats(0, 3)),
                "damage_usd_per_hit": draw(st.floats(0, 1e7)),
            }
        },
        "actors": actors,
        "end_when_settled": draw(st.booleans()),
        "shared_defences": True,
        "ceasefire": {
            "mediator": "c",
            "base_hazard_per_day": draw(st.floats(0, 1)),
            "rung_weight": draw(st.floats(0, 5)),
            "cost_weight": draw(st.floats(0, 5)),
            "pressure_weight": draw(st.floats(0, 10)),
            "check_every_hours": draw(st.floats(1, 240)),
        },
        "relations": [
            {"kind": "defends", "ally": "c", "protects": "b", "joins_combat_at_rung": 2},
            {
                "kind": "proxy",
                "proxy": "c",
                "patron": "a",
                "obey_probability": draw(unit),
                "telegraph_probability": draw(unit),
                "campaign_multiplier": draw(st.floats(0, 10)),
            },
        ],
        "opening": [
            {
                "day": 0.5,
                "attacker": "a",
                "target": "b",
                "rung": draw(st.integers(0, 6)),
                "projectiles": {"rocket": draw(st.integers(0, 20))},
                "casualties": draw(st.integers(0, 30)),
                "claimed": draw(st.booleans()),
            }
        ]
        + [
            # strikes in the air at once, for shared defences to share: c joins a's opening
            {"day": 0.5, "attacker": "c", "target": "b", "rung": 1, "projectiles": {"rocket": n}}
            for n in draw(st.lists(st.integers(1, 20), max_size=1))
        ],
    }
    return parse_scenario(yaml.safe_dump(scenario, sort_keys=False))


@settings(max_examples=60, deadline=None)
@given(scenario=dynamic_scenarios(), replication=st.integers(0, 10**6))
def test_properties_with_the_mechanisms_on(scenario, replication):
    events = run_replication(scenario, replication)
    assert events == run_replication(scenario, replication)
    assert_every_projectile_accounted_for(events)
    assert all(e.stock_after >= 0 for e in events if isinstance(e, Interception))
    times = [e.time_hours for e in events]
    assert times == sorted(times) and (not times or times[-1] <= scenario.horizon_days * 24)
    for account in (e for e in events if isinstance(e, AccountChanged)):
        assert min(account.suffered, account.inflicted, account.pending, account.unsettled) >= 0
        owed = account.suffered - account.inflicted - account.pending
        assert abs(account.unsettled - max(0.0, owed)) <= 1e-9 * max(1.0, account.suffered)
        tolerance = scenario.actors[account.actor].policy.memory.settle_tolerance
        assert account.settled == (account.unsettled <= tolerance)
    for decision in (e for e in events if isinstance(e, DecisionMade)):
        if decision.trigger_strike_id < 0:  # a history strike: decided at the start, once
            assert decision.time_hours == 0.0 and decision.reason.startswith("history: ")
    history_ids = [e.strike_id for e in events if isinstance(e, HistoryStruck)]
    assert sorted(history_ids, reverse=True) == list(range(-1, -len(scenario.history) - 1, -1))
    launched = {e.strike_id for e in events if isinstance(e, StrikeLaunched | HistoryStruck)}
    unclaimed = [e.strike_id for e in events if isinstance(e, Unclaimed)]
    assert len(set(unclaimed)) == len(unclaimed) and set(unclaimed) <= launched
    endings = [i for i, e in enumerate(events) if isinstance(e, RoundEnded)]
    assert endings == [len(events) - 1]  # one ending, the last record
    assert events[-1].how in {"ceasefire", "settled", "horizon"}
