"""Step 1 of the flow: scenario files in, a validated ``Scenario`` out.

Takes YAML files (a scenario, or a variant that ``extends:`` one and ``set:`` values), checks them
against the strict schema and hands on a ``Scenario`` object, or ``ScenarioError`` listing every
mistake as ``file:line: field: message``. Also here: the escalation ladder the schema names rungs
by (``ladder``), overrides and declared levers by dotted path (``levers``), parameter sets drawn
from a calibrated posterior (``parameters``) and the generated reference page (``reference_doc``).
Nothing here runs a simulation; every other step imports from this one.
"""

from sim.scenario.loading import load_scenario, parse_scenario
from sim.scenario.problems import Problem, ScenarioError

__all__ = ["Problem", "ScenarioError", "load_scenario", "parse_scenario"]
