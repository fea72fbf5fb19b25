"""Bad input in the blocks of the version-2 mechanisms: one `file:line: field: message` each."""

from pathlib import Path

import pytest

from sim.scenario.loading import ScenarioError, load_scenario
from tests.test_memory import MEMORY, WITH_MEMORY


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return [str(p) for p in caught.value.problems]


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    return lines[occurrence - 1]


MEMORY_CASES = [
    ("settle_tolerance: 0.5", "settle_tolerance: 9", "settle_tolerance", "must be <= 6.0, got 9"),
    ("account_weight: 1.0", "account_weight: .inf", "account_weight", "finite number"),
    ("settle_tolerance: 0.5", "settle_tolerance: 0.5, forget: 1", "forget", "unknown key"),
]


@pytest.mark.parametrize(("old", "new", "field", "message"), MEMORY_CASES)
def test_a_bad_memory_block_names_its_file_line_and_field(tmp_path, old, new, field, message):
    text = MEMORY.format(memory=WITH_MEMORY.replace(old, new), rung=2, casualties=7)
    (problem, *_) = problems_of(tmp_path, text)
    line = line_of(text, "memory:")
    assert problem.startswith(f"{tmp_path / 'bad.yaml'}:{line}: actors.a.policy.memory.{field}: ")
    assert message in problem


def test_a_height_spread_of_zero_is_refused_with_its_line(tmp_path):
    from tests.test_height import JUMP

    text = JUMP.replace("spread: 0.05", "spread: 0")
    (problem,) = problems_of(tmp_path, text)
    line = line_of(text, "height:")
    assert problem == (
        f"{tmp_path / 'bad.yaml'}:{line}: actors.b.policy.height.spread: must be >= 0.05, got 0"
    )


def test_a_timing_floor_above_its_ceiling_is_refused_with_its_line(tmp_path):
    from tests.test_timing import LEADERSHIP

    timing = "\n      timing: {min_median_hours: 100, max_median_days: 1}"
    text = LEADERSHIP.format(timing=timing, rung=3, casualties=0)
    (problem,) = problems_of(tmp_path, text)
    line = line_of(text, "timing:")
    assert problem == (
        f"{tmp_path / 'bad.yaml'}:{line}: actors.b.policy.timing: need min_median_hours <= "
        "24 * max_median_days, got 100 and 1 days"
    )


def test_a_ceasefire_naming_no_actor_is_refused_with_its_line(tmp_path):
    text = MEMORY.format(memory="", rung=2, casualties=7) + "ceasefire: {mediator: un}\n"
    (problem,) = problems_of(tmp_path, text)
    line = line_of(text, "ceasefire:")
    assert (
        problem
        == f"{tmp_path / 'bad.yaml'}:{line}: ceasefire.mediator: unknown actor 'un' (known: a, b)"
    )


def test_a_ceasefire_hazard_above_one_a_day_is_refused(tmp_path):
    text = MEMORY.format(memory="", rung=2, casualties=7)
    text += "ceasefire: {mediator: a, base_hazard_per_day: 2}\n"
    (problem,) = problems_of(tmp_path, text)
    assert ": ceasefire.base_hazard_per_day: must be <= 1.0, got 2" in problem


HISTORY_CASES = [
    ("day: -0.5", "day: 1", "history[1].day", "must be <= 0.0, got 1"),
    (
        "attacker: b, target: a",
        "attacker: z, target: a",
        "history[1].attacker",
        "unknown actor 'z' (known: a, b)",
    ),
    (
        "interceptors_fired: {dome: 20}",
        "interceptors_fired: {sling: 20}",
        "history[1].interceptors_fired.sling",
        "unknown homeland layer of a 'sling' (known: dome)",
    ),
    (
        "interceptors_fired: {dome: 20}",
        "interceptors_fired: {dome: 51}",
        "history[1].interceptors_fired.dome",
        "the history spends 51 of a's dome but its stock holds 50",
    ),
    (
        "projectiles: {rocket: 20}",
        "projectiles: {rocket: 101}",
        "history[1].projectiles.rocket",
        "the history spends 101 of b's rocket but its arsenal holds 100",
    ),
    ("failed: 2", "failed: 4", "history[1]", "failed + intercepted (4 + 17) exceeds the 20"),
]


@pytest.mark.parametrize(("old", "new", "field", "message"), HISTORY_CASES)
def test_a_bad_history_names_its_file_line_and_field(tmp_path, old, new, field, message):
    from tests.test_history import HISTORY

    good = HISTORY.format(memory="", extra="")
    assert good.count(old) == 1
    text = good.replace(old, new)
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'bad.yaml'}:{line_of(text, new)}: {field}: ")
    assert message in problem


def test_no_opening_and_no_history_keeps_the_old_error(tmp_path):
    from tests.test_history import HISTORY

    text = HISTORY.format(memory="", extra="")
    text = text[: text.index("history:")] + "opening: []\n"
    (problem,) = problems_of(tmp_path, text)
    assert problem.endswith(": opening: must have at least 1 item(s), got []")
