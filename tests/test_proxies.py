"""Where strikes land, partly (issue 14 item 7): a patron told of a strike on its proxy may answer
for it (``proxy_weight`` on its policy), and an actor can keep up a low-rung campaign of its own,
a Poisson process whose rate a patron raises or holds back (``campaign_multiplier``)."""

import math

import pytest

from sim.model.campaigns import campaign_rates
from sim.model.events import AccountChanged, DecisionMade, StrikeLaunched, StrikeOutcome
from sim.model.rng import Streams
from sim.model.world import World, run_replication
from sim.scenario.loading import parse_scenario
from tests.test_dynamics_errors import line_of, problems_of

WORLD = """\
version: 2
name: proxies
seed: 2
horizon_days: {horizon}
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  pat:
    name: Patron
    arsenal: {{rocket: 100}}
    policy:
      base_response_probability: 0.5
      delay: {{median_days: 2, sigma: 0}}
      packages: {{3: {{projectiles: {{rocket: 4}}}}}}{patron}
  prox:
    name: Proxy
    arsenal: {{rocket: 1000}}
    policy:
      base_response_probability: 0
      delay: {{median_days: 1, sigma: 0}}
      packages: {{1: {{projectiles: {{rocket: 2}}}}}}{proxy}
  foe:
    name: Foe
    arsenal: {{rocket: 100}}
relations:
  - {{kind: proxy, proxy: prox, patron: pat, obey_probability: 1, campaign_multiplier: {mult}}}
opening:
{opening}
"""
STRIKE_ON_PROXY = "  - {day: 0, attacker: foe, target: prox, rung: 2, casualties: 7}"


def scenario(patron="", proxy="", mult=1.0, opening=STRIKE_ON_PROXY, horizon=4):
    return parse_scenario(
        WORLD.format(patron=patron, proxy=proxy, mult=mult, opening=opening, horizon=horizon)
    )


PATRON_CASES = [
    # proxy_weight, chance the patron answers for its proxy (base 0.5: odds 1 times the weight)
    (1.0, 0.5),
    (0.5, 1 / 3),
    (0.25, 0.2),
]


@pytest.mark.parametrize(("weight", "chance"), PATRON_CASES)
def test_a_patron_weighs_a_strike_on_its_proxy_by_its_proxy_weight(weight, chance):
    events = run_replication(scenario(f"\n      proxy_weight: {weight}"), 0)
    (decision,) = [e for e in events if isinstance(e, DecisionMade) and e.actor == "pat"]
    assert (decision.reason, decision.attacker) == ("proxy prox struck", "foe")
    assert decision.respond_probability == pytest.approx(chance)


def test_without_a_proxy_weight_the_patron_is_not_told():
    events = run_replication(scenario(), 0)
    assert not any(isinstance(e, DecisionMade) and e.actor == "pat" for e in events)


def test_exact_log_of_a_patron_answering_for_its_proxy():
    """foe strikes prox (rung 2, 7 killed); pat, who weighs it in full and answers surely, books
    it in its account and strikes foe two days later; the proxy holds back."""
    patron = "\n      proxy_weight: 1.0\n      base_response_probability: 1\n      memory: {}"
    text = WORLD.format(
        patron=patron, proxy="", mult=1.0, opening=STRIKE_ON_PROXY, horizon=4
    ).replace("      base_response_probability: 0.5\n", "", 1)
    events = World(parse_scenario(text), Streams(2, 0)).run()
    severity = 2 + 0.5 * math.log(8)
    strikes = [
        (e.time_hours, e.strike_id, e.attacker, e.target, e.rung, e.cause)
        for e in events
        if isinstance(e, StrikeLaunched)
    ]
    assert strikes == [
        (0.0, 1, "foe", "prox", 2, "opening"),
        (48.0, 2, "pat", "foe", 3, "proxy prox struck"),
    ]
    decisions = [
        (e.actor, e.reason, e.respond, e.target, e.rung, e.delay_hours)
        for e in events
        if isinstance(e, DecisionMade)
    ]
    assert decisions == [
        ("prox", "struck", False, "foe", 1, 24.0),
        ("pat", "proxy prox struck", True, "foe", 3, 48.0),
    ]
    first = next(e for e in events if isinstance(e, AccountChanged))
    assert (first.actor, first.adversary, first.suffered) == ("pat", "foe", pytest.approx(severity))


CAMPAIGN = "\n      campaign: {{target: foe, rate_per_day: {rate}, rung: 1}}"


@pytest.mark.parametrize(
    ("rate", "mult", "expected"),
    [(2.0, 1.0, 2.0), (2.0, 0.5, 1.0), (2.0, 3.0, 6.0), (2.0, 0.0, None)],
)
def test_the_campaign_rate_is_the_proxys_rate_times_its_patrons_multiplier(rate, mult, expected):
    rates = campaign_rates(scenario(proxy=CAMPAIGN.format(rate=rate), mult=mult))
    assert rates.get("prox") == expected


def test_exact_log_of_a_proxys_own_campaign():
    """With no opening the proxy strikes foe on its own: its first strike comes after the first
    exponential draw of its campaign stream (mean 12 hours at 2 a day), the next after the
    second, each at rung 1 with its rung-1 package, unannounced, answering nothing."""
    sc = scenario(proxy=CAMPAIGN.format(rate=2.0), opening="  []", horizon=1)
    events = World(sc, Streams(2, 0)).run()
    rng = Streams(2, 0).get("campaign", "prox")
    times, clock = [], 0.0
    while (clock := clock + rng.exponential(12.0)) <= 24.0:
        times.append(clock)
    strikes = [e for e in events if isinstance(e, StrikeLaunched)]
    assert [e.time_hours for e in strikes] == pytest.approx(times) and times
    assert {(e.attacker, e.target, e.rung, e.cause, e.telegraphed) for e in strikes} == {
        ("prox", "foe", 1, "own campaign", False)
    }
    assert all(e.projectiles == (("rocket", 2),) for e in strikes)
    assert len([e for e in events if isinstance(e, StrikeOutcome)]) == len(strikes)


def test_a_patron_holding_its_proxy_back_stops_the_campaign_and_raising_it_speeds_it():
    def strikes(mult):
        sc = scenario(proxy=CAMPAIGN.format(rate=1.0), mult=mult, opening="  []", horizon=30)
        return sum(
            sum(isinstance(e, StrikeLaunched) for e in run_replication(sc, r)) for r in range(20)
        )

    assert strikes(0.0) == 0
    low, high = strikes(1.0), strikes(3.0)
    # Poisson counts over 20 runs of 30 days: means 600 and 1800, sd about 24 and 42
    assert abs(low - 600) < 5 * math.sqrt(600) and abs(high - 1800) < 5 * math.sqrt(1800)


def test_a_campaign_on_an_unknown_actor_is_refused_with_its_line(tmp_path):
    text = WORLD.format(
        patron="",
        proxy=CAMPAIGN.format(rate=1).replace("foe", "nobody"),
        mult=1.0,
        opening=STRIKE_ON_PROXY,
        horizon=4,
    )
    (problem,) = problems_of(tmp_path, text)
    assert problem == (
        f"{tmp_path / 'bad.yaml'}:{line_of(text, 'campaign:')}: actors.prox.policy.campaign.target:"
        " unknown actor 'nobody' (known: foe, pat, prox)"
    )


@pytest.mark.parametrize(
    ("proxy", "mult", "field", "message"),
    [
        (
            CAMPAIGN.format(rate=-1),
            1.0,
            "actors.prox.policy.campaign.rate_per_day",
            "must be >= 0.0, got -1",
        ),
        (
            CAMPAIGN.format(rate=1).replace("rung: 1", "rung: 3"),
            1.0,
            "actors.prox.policy.campaign.rung",
            "must be <= 2, got 3",
        ),
        (
            CAMPAIGN.format(rate=1).replace("foe", "prox"),
            1.0,
            "actors.prox.policy.campaign.target",
            "an actor cannot strike itself",
        ),
        ("", -1, "relations[0].campaign_multiplier", "must be >= 0.0, got -1"),
    ],
)
def test_bad_campaign_fields_are_refused(tmp_path, proxy, mult, field, message):
    text = WORLD.format(patron="", proxy=proxy, mult=mult, opening=STRIKE_ON_PROXY, horizon=4)
    (problem,) = problems_of(tmp_path, text)
    fragment = "campaign:" if proxy else "kind: proxy"
    assert problem == f"{tmp_path / 'bad.yaml'}:{line_of(text, fragment)}: {field}: {message}"


def test_a_proxy_weight_outside_0_1_is_refused(tmp_path):
    text = WORLD.format(
        patron="\n      proxy_weight: 2", proxy="", mult=1.0, opening=STRIKE_ON_PROXY, horizon=4
    )
    (problem,) = problems_of(tmp_path, text)
    assert problem == (
        f"{tmp_path / 'bad.yaml'}:{line_of(text, 'proxy_weight')}: actors.pat.policy.proxy_weight:"
        " must be <= 1.0, got 2"
    )


def test_a_round_with_a_campaign_going_is_never_settled():
    """The proxy lets foe's strike be and nothing is pending, but its campaign goes on: the
    round runs to the horizon; held back to rate 0, the same round ends settled then."""
    going, held = (
        parse_scenario(
            WORLD.format(
                patron="",
                proxy=CAMPAIGN.format(rate=0.01),
                mult=m,
                opening=STRIKE_ON_PROXY,
                horizon=4,
            )
            + "end_when_settled: true\n"
        )
        for m in (1.0, 0.0)
    )
    assert run_replication(going, 0)[-1].how == "horizon"
    assert run_replication(held, 0)[-1].how == "settled"
