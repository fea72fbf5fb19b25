"""`sim trace`: one replication as text, the same bytes for the same scenario, seed and replication."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.main import main
from sim.model.events import DecisionMade, Interception, StrikeLaunched, WaveLaunched
from sim.model.trace import format_trace
from sim.model.world import run_replication
from sim.scenario.loading import load_scenario

APRIL = Path(__file__).parents[1] / "scenarios" / "april-2024.yaml"


def trace_text(*args: str) -> str:
    result = CliRunner().invoke(main, ["trace", str(APRIL), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_same_seed_same_trace_byte_for_byte():
    assert trace_text("--seed", "11", "-r", "3") == trace_text("--seed", "11", "-r", "3")


def test_other_seed_or_replication_other_trace():
    base = trace_text("--seed", "11", "-r", "3")
    assert trace_text("--seed", "12", "-r", "3") != base
    assert trace_text("--seed", "11", "-r", "4") != base


def test_trace_names_every_strike_and_decision_of_the_log():
    scenario = load_scenario(APRIL)
    events = run_replication(scenario, 5)
    text = format_trace(events, "title")
    strikes = [e for e in events if isinstance(e, StrikeLaunched)]
    decisions = [e for e in events if isinstance(e, DecisionMade)]
    assert text.count(" STRIKE #") == len(strikes)
    assert text.count(" DECISION ") == len(decisions)
    for strike in strikes:
        assert f"STRIKE #{strike.strike_id} {strike.attacker} -> {strike.target}" in text
    for decision in decisions:
        assert f"p(respond)={decision.respond_probability:.3f}" in text
    waves = [e for e in events if isinstance(e, WaveLaunched)]
    assert waves, "replication 5 launches no projectiles: the check below would be empty"
    for wave in waves:
        assert f"wave of #{wave.strike_id}: {wave.count} {wave.weapon}, leaves at +" in text
    engaged = [e for e in events if isinstance(e, Interception) and e.entered]
    assert engaged, "replication 5 has no interception: the check below would be empty"
    for layer in engaged:  # strikes in flight together interleave: each line names its strike
        assert f"#{layer.strike_id} {layer.layer} [{layer.operator}] vs {layer.weapon}: " in text


def test_trace_of_a_bad_file_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 2\nname: x\nseed: -1\n")
    result = CliRunner().invoke(main, ["trace", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{bad}:3: seed: must be >= 0, got -1" in result.output


@pytest.mark.parametrize("args", [("--seed", "7"), ("--seed", "7", "--replication", "3")])
def test_same_trace_byte_for_byte_in_separate_processes(args):
    """Two processes with different string-hash seeds print the same bytes, and the same text
    as the command run in this process: nothing in a trace may depend on set or hash order."""
    root = APRIL.parents[1]
    command = [sys.executable, "-m", "sim", "trace", "scenarios/april-2024.yaml", *args]
    runs = [
        subprocess.run(
            command,
            capture_output=True,
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            timeout=120,
            check=False,
        )
        for hash_seed in ("0", "4242")
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr.decode()
    first, second = (run.stdout for run in runs)
    assert b" STRIKE #1 " in first and b" DECISION " in first
    assert first == second
    assert first.decode() == trace_text(*args)


def test_trace_shows_each_account_and_the_one_that_closed():
    from tests.test_memory import memory_world

    text = format_trace(memory_world(), "memory")
    accounts = [line for line in text.splitlines() if "account of" in line]
    assert len(accounts) == 5
    assert accounts[0].endswith(
        "account of b with a: suffered 3.04, inflicted 0.00, pending 0.00 -> owes 3.04"
    )
    assert accounts[-1].endswith("-> CLOSED: the matter is settled")
    assert sum("CLOSED" in line for line in accounts) == 1


def test_trace_says_how_and_when_the_round_ended():
    from tests.test_endings import ceasefire

    text = format_trace(ceasefire("base_hazard_per_day: 1.0, rung_weight: 5.0"), "ceasefire")
    assert text.splitlines()[-1] == (
        "day    1.00  THE ROUND ENDED by a ceasefire brokered by m (hazard 2.2e+04/day); "
        "highest rung 2, costs so far $0"
    )
    assert format_trace(ceasefire("base_hazard_per_day: 0.0"), "x").endswith(
        "THE ROUND DID NOT END before the horizon\n"
    )
