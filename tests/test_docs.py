"""Documentation that is generated must match its generator; links between docs must resolve; the
README's quick start and every tutorial run as written."""

import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from sim.scenario.reference_doc import scenario_reference

DOCS = Path(__file__).parents[1] / "docs"


def test_scenario_reference_matches_the_schema():
    assert (DOCS / "scenario-reference.md").read_text() == scenario_reference(), (
        "docs/scenario-reference.md is stale: run `sim schema --markdown > "
        "docs/scenario-reference.md`"
    )


def _models(schema: dict) -> dict[str, dict]:
    """Every object of a JSON Schema that has fields, by its section name in the reference: the
    root is ``Scenario``, a ``$defs`` entry its own name, an inline object its JSON path."""
    found: dict[str, dict] = {}

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                found[where] = node
                for field, spec in node["properties"].items():
                    walk(spec, f"{where}.{field}")
            for key, value in node.items():
                if key == "$defs":
                    for name, model in value.items():
                        walk(model, name)
                elif key != "properties":
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}/{i}")

    walk(schema, "Scenario")
    return found


def _reference_rows(text: str) -> dict[str, dict[str, str]]:
    """The reference's field tables: section -> field -> its meaning cell."""
    rows: dict[str, dict[str, str]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif match := re.match(r"^\| `([^`]+)` \|", line):
            cells = re.split(r"(?<!\\)\|", line.strip())
            rows.setdefault(section, {})[match.group(1)] = cells[-2].strip()
    return rows


def test_every_field_of_the_schema_has_a_description():
    from sim.scenario.schema import Scenario

    models = _models(Scenario.model_json_schema())
    assert "Scenario" in models and "Policy" in models, "the schema walk found no models"
    missing = [
        f"{name}.{field}"
        for name, model in models.items()
        for field, spec in model["properties"].items()
        if not str(spec.get("description", "")).strip()
    ]
    assert not missing, (
        "fields without a meaning: give each a Field(description=...) in sim/scenario/schema.py "
        "(what it means, in which unit): " + ", ".join(missing)
    )


def test_every_field_of_the_schema_is_documented():
    from sim.scenario.schema import Scenario

    rows = _reference_rows((DOCS / "scenario-reference.md").read_text())
    for name, model in _models(Scenario.model_json_schema()).items():
        for field in model["properties"]:
            meaning = rows.get(name, {}).get(field)
            assert meaning is not None, f"docs/scenario-reference.md has no row for {name}.{field}"
            assert meaning, f"docs/scenario-reference.md: {name}.{field} has an empty meaning"


def test_relative_links_in_docs_resolve():
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_gallery_shows_every_figure_and_stays_small():
    from sim.figures.plots import RESULTS_FIGURES

    text = (DOCS / "gallery.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    studies = {"compare", "sweep", "sobol", "calibration", "predictive"}
    assert {Path(i).stem for i in images} == set(RESULTS_FIGURES) | studies
    assert "Made by `sim gallery`" in text
    assert sum((DOCS / i).stat().st_size for i in images) < 2_000_000
    for image in images:
        assert (DOCS / image).with_suffix(".csv").exists(), f"{image} has no CSV of its numbers"


def test_model_description_points_at_modules_that_exist():
    text = (DOCS / "model-odd.md").read_text()
    modules = set(re.findall(r"`(sim/(?:[a-z_]+/)*[a-z_]+\.py)", text))
    assert modules, "the ODD description names no module"
    for module in modules:
        assert (DOCS.parent / module).exists(), module
    for heading in ("## Overview", "## Design concepts", "## Details"):
        assert heading in text


# --- The README's quick start and every tutorial, run as written -------------------------------
#
# Every fenced block of README.md and docs/tutorial-*.md is read from the Markdown (never retyped
# here) and run as a reader would run it, in a copy of the checkout (relative paths work, results
# land in the test's temporary folder), with this environment's `sim` first on PATH, as activating
# the venv gives. The blocks of one page run in order in one copy: later ones read what earlier
# ones wrote.
#
#   ```bash          run by bash, each command checked: a failure names its page and line
#   ```python        run as a script, under `if __name__ == "__main__":` as the pages tell readers
#   ```yaml          a scenario: written beside the shipped ones and checked by `sim validate`
#   ```text          what the bash block just before it prints: each of its lines must be printed
#   ```              an illustration (output of a study not run here, a layout): not run
#
# Install steps (`python3 -m venv .venv`, `. .venv/bin/activate`, `pip install ...`) cannot run
# inside the suite: each is checked instead (the extras it names exist and are installed) and the
# rest of its line runs. `... && pytest` is what CI runs: that line must be the last of .ci/run,
# and is not run again inside pytest.
#
# A page may put one marker on the last non-blank line before a block; skipped and shrunk blocks
# are listed in the test's warnings and counted against MAX_MARKED_BLOCKS:
#
#   <!-- docs-test: skip; REASON -->   not run; its commands' subcommands and options are checked
#                                      against their --help, the scenarios they name must exist
#                                      and validate, a Python block must compile
#   <!-- docs-test: smaller -n 20 -r 10; REASON -->   run with these option values instead
#   <!-- docs-test: continues -->      a Python block that goes on from the page's previous one

ROOT = DOCS.parent
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in DOCS.glob("tutorial-*.md"))]
VENV_BIN = Path(sys.executable).parent
MAX_MARKED_BLOCKS = 3
"""Skipped or shrunk blocks allowed over all pages: a new one must be argued for here."""
BLOCK_TIMEOUT = 300
"""Seconds one block may run before it counts as hung."""
STDERR_TAIL = 25
"""Lines of a failed command's stderr shown in the failure."""
MARKER = re.compile(r"^<!-- docs-test: (?P<kind>skip|smaller|continues)(?P<rest>.*) -->$")
FENCE = re.compile(r"^```(?P<language>\S*)\s*$")
VENV_STEP = "python3 -m venv .venv"
ACTIVATE_STEP = ". .venv/bin/activate"
FAILED_LINE = re.compile(r"^docs-test: line (\d+) failed$", re.MULTILINE)
COPY_IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "results", "__pycache__", "*.egg-info", ".hypothesis", "build", "paper"
)


class DocsBlockNotRunAsWritten(UserWarning):
    """A documentation block that the docs test skipped or ran smaller, with the page's reason."""


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: where it starts, its language, its text and its marker."""

    page: str
    line: int
    """Line of the opening fence (1-based): the block's first line is line + 1."""
    language: str
    text: str
    marker: str = ""
    """The marker's kind (``skip``, ``smaller``, ``continues``), or empty."""
    marker_text: str = ""
    """What follows the kind in the marker: options for ``smaller``, then ``; REASON``."""

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def reason(self) -> str:
        return self.marker_text.partition(";")[2].strip()


def read_blocks(page: Path, name: str) -> list[Block]:
    """Every fenced block of a page, each with the marker on the last non-blank line before it."""
    lines = page.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        assert end is not None, f"{name}:{i + 1}: a fenced block that never closes"
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(before)
        blocks.append(
            Block(
                page=name,
                line=i + 1,
                language=opening["language"],
                text="".join(f"{line}\n" for line in lines[i + 1 : end]),
                marker=marker["kind"] if marker else "",
                marker_text=marker["rest"] if marker else "",
            )
        )
        i = end + 1
    return blocks


def logical_lines(text: str) -> list[tuple[int, int, str]]:
    """The shell commands of a block: (0-based first and last line, the command with its
    backslash-continued lines joined), blank and comment-only lines left out."""
    commands: list[tuple[int, int, str]] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines()):
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        command = " ".join([*pending, line]).strip()
        pending = []
        if command and not command.startswith("#"):
            commands.append((start, number, command))
    return commands


def install_steps(command: str) -> tuple[list[str], str]:
    """Split a command line into its leading install steps and what follows them."""
    parts = command.split(" && ")
    steps: list[str] = []
    while parts and (parts[0] in (VENV_STEP, ACTIVATE_STEP) or parts[0].startswith("pip install")):
        steps.append(parts.pop(0))
    return steps, " && ".join(parts)


def check_install(steps: list[str], where: str) -> None:
    """Install steps are not run inside the suite; what they would give must be here already: a
    venv is made and activated before anything goes into it, and `pip install` names this project
    (`.`) with extras it declares, whose requirements are installed."""
    if VENV_STEP in steps:
        assert steps[steps.index(VENV_STEP) + 1 : steps.index(VENV_STEP) + 2] == [ACTIVATE_STEP], (
            f"{where}: `{VENV_STEP}` is not followed by `{ACTIVATE_STEP}`"
        )
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for step in steps:
        if not step.startswith("pip install"):
            continue
        targets = [word for word in shlex.split(step)[2:] if word not in ("-q", "-e")]
        assert len(targets) == 1, f"{where}: `{step}` should install one target, this project"
        target = re.fullmatch(r"\.(?:\[([a-z,]+)\])?", targets[0])
        assert target, f"{where}: `{step}` installs {targets[0]!r}, not this project (`.`)"
        importlib.metadata.version("escalation-sim")
        for extra in filter(None, (target[1] or "").split(",")):
            assert extra in extras, f"{where}: `{step}` names extra {extra!r}, not in pyproject"
            for requirement in extras[extra]:
                name = re.match(r"[A-Za-z0-9_.-]+", requirement)[0]
                importlib.metadata.version(name)


def ci_command() -> str:
    """The last line of .ci/run: the one command CI runs."""
    return (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]


def bash_script(block: Block) -> str:
    """The block as a bash script: install steps checked and cut out, the CI's `pytest` line
    checked against .ci/run and cut out, and after each command a check that stops the script
    with the command's line if it failed (`set -e` would miss a failure before an `&&`)."""
    lines = block.text.splitlines()
    ends: dict[int, int] = {}
    for start, end, command in logical_lines(block.text):
        ends[end] = start
        steps, rest = install_steps(command)
        if not steps:
            continue
        where = f"{block.page}:{block.line + 1 + start}"
        check_install(steps, where)
        if rest == "pytest":
            assert command == ci_command(), f"{where}: `{command}` is not what .ci/run runs"
            rest = ""
        prefix = command[: len(command) - len(rest)]
        assert lines[start].startswith(prefix.rstrip()), f"{where}: install steps span lines"
        lines[start] = rest or ":"
    script = []
    for number, line in enumerate(lines):
        script.append(line)
        if number in ends:
            failed = f"docs-test: line {ends[number] + 1} failed"
            script.append(
                f"status=$?; [ $status -eq 0 ] || {{ echo '{failed}' >&2; exit $status; }}"
            )
    return "\n".join(script) + "\n"


def logical_command(text: str, start: int) -> str:
    """The command of a block that starts on its 0-based line ``start``."""
    return next(command for first, _, command in logical_lines(text) if first == start)


def environment() -> dict[str, str]:
    """This environment's venv first on PATH, as `. .venv/bin/activate` gives; figures off-screen;
    tables as wide as in a pipe (no terminal size), as the pages quote them."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {
        **inherited,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(VENV_BIN.parent),
        "MPLBACKEND": "Agg",
    }


def tail(text: str) -> str:
    """The last STDERR_TAIL lines of a command's stderr, without the runner's own line."""
    return "\n".join(FAILED_LINE.sub("", text).strip().splitlines()[-STDERR_TAIL:])


def run_checked(command: list[str], block: Block, cwd: Path, what: str) -> str:
    """Run one command for a block; on failure, fail naming the block and showing stderr's tail."""
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.where}: {what} still running after {BLOCK_TIMEOUT} s")
    if done.returncode != 0:
        line = FAILED_LINE.findall(done.stderr)
        if line:
            command_line = int(line[-1])
            where = f"{block.page}:{block.line + command_line}"
            what = f"`{logical_command(block.text, command_line - 1)}`"
        else:
            where = block.where
        pytest.fail(
            f"{where}: {what} failed (exit {done.returncode})\n"
            f"--- stderr, last {STDERR_TAIL} lines ---\n{tail(done.stderr)}",
            pytrace=False,
        )
    return done.stdout


def smaller(block: Block) -> str:
    """The block's text with the option values its `smaller` marker gives (each must occur)."""
    options = shlex.split(block.marker_text.partition(";")[0])
    assert options and len(options) % 2 == 0, f"{block.where}: `smaller` needs OPTION VALUE pairs"
    text = block.text
    for option, value in zip(options[::2], options[1::2], strict=True):
        text, count = re.subn(rf"(?<=\s){re.escape(option)}\s+\S+", f"{option} {value}", text)
        assert count, f"{block.where}: the marker shrinks {option}, which the block does not use"
    return text


def python_script(code: str) -> str:
    return 'if __name__ == "__main__":\n' + textwrap.indent(code, "    ")


def help_text(command: tuple[str, ...], cwd: Path, cache: dict) -> str:
    if command not in cache:
        done = subprocess.run(
            [*command, "--help"], cwd=cwd, env=environment(), capture_output=True, text=True
        )
        assert done.returncode == 0, f"`{' '.join(command)} --help` fails: {tail(done.stderr)}"
        cache[command] = done.stdout
    return cache[command]


def simple_commands(command: str) -> list[list[str]]:
    """A command line cut at `&&`, `||`, `|` and `;` into its simple commands' words."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for word in lexer:
        if word in ("&&", "||", "|", ";"):
            commands.append([])
        else:
            commands[-1].append(word)
    return [words for words in commands if words]


def check_skipped(block: Block, copy: Path) -> None:
    """What can be checked of a block that is not run, cheaply: Python compiles; a shell block
    parses, its install steps are checked, every `sim` or `dask` subcommand and option it uses is
    in that subcommand's --help, every scenario it names exists and validates."""
    if block.language == "python":
        compile(block.text, block.where, "exec")
        return
    assert block.language == "bash", f"{block.where}: no check for a skipped {block.language!r}"
    syntax = subprocess.run(["bash", "-n"], input=block.text, capture_output=True, text=True)
    assert syntax.returncode == 0, f"{block.where}: not valid bash: {syntax.stderr}"
    helps: dict = {}
    validated: set[str] = set()
    for start, _, line in logical_lines(block.text):
        where = f"{block.page}:{block.line + 1 + start}"
        steps, rest = install_steps(line)
        check_install(steps, where)
        for words in simple_commands(rest):
            if words[0] == "export":
                continue
            assert words[0] in ("sim", "dask"), f"{where}: no check for `{words[0]}`"
            usage = help_text(tuple(words[:2]), copy, helps)
            for word in words[2:]:
                if word.startswith("-"):
                    option = word.partition("=")[0]
                    assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", usage), (
                        f"{where}: `{' '.join(words[:2])}` has no option {option}"
                    )
                elif word.endswith(".yaml") and word not in validated:
                    assert (copy / word).exists(), f"{where}: {word} does not exist"
                    run_checked(["sim", "validate", word], block, copy, f"`sim validate {word}`")
                    validated.add(word)


@dataclass
class PageState:
    """What later blocks of a page go on from: the page's Python so far (for a `continues`
    block) and what the last block printed, if it ran as written (for a ```text block)."""

    python: str = ""
    printed: str | None = None


def check_printed(block: Block, printed: str | None) -> None:
    """A ```text block right after a bash block quotes what it prints: every line must be one
    of the lines that block printed when it ran as written."""
    assert printed is not None, (
        f"{block.where}: quotes output of a block that did not run as written"
    )
    lines = set(printed.splitlines())
    stale = [line for line in block.text.splitlines() if line.strip() and line not in lines]
    assert not stale, (
        f"{block.where}: quoted output the block above does not print (re-measure it):\n"
        + "\n".join(stale)
        + f"\n--- it printed ---\n{printed}"
    )


def run_block(block: Block, copy: Path, state: PageState) -> None:
    """Run (or for a skipped block, check) one block in the copy, updating the page's state."""
    printed, state.printed = state.printed, None
    if block.marker == "skip":
        check_skipped(block, copy)
        return
    text = smaller(block) if block.marker == "smaller" else block.text
    if block.language == "bash":
        script = copy.parent / f"block-{block.line}.sh"
        script.write_text(bash_script(Block(block.page, block.line, "bash", text)))
        output = run_checked(["bash", "-o", "pipefail", str(script)], block, copy, "the block")
        state.printed = None if block.marker else output
    elif block.language == "python":
        state.python = (state.python if block.marker == "continues" else "") + text
        script = copy.parent / f"block-{block.line}.py"
        script.write_text(python_script(state.python))
        run_checked([sys.executable, str(script)], block, copy, "the Python block")
    elif block.language == "yaml":
        scenario = copy / "scenarios" / f"docs-test-{block.line}.yaml"
        scenario.write_text(text)
        run_checked(
            ["sim", "validate", str(scenario)], block, copy, "`sim validate` of the scenario"
        )
    elif block.language == "text":
        check_printed(block, printed)
    else:
        assert block.language == "", f"{block.where}: a ```{block.language} block"


def run_page(page: Path, name: str, copy: Path) -> None:
    """Run a page's blocks in order in the copy; warn of each one skipped or shrunk."""
    state = PageState()
    for block in read_blocks(page, name):
        if block.marker in ("skip", "smaller"):
            warnings.warn(
                DocsBlockNotRunAsWritten(f"{block.where}: {block.marker}: {block.reason}"),
                stacklevel=1,
            )
        run_block(block, copy, state)


@pytest.fixture
def checkout_copy(tmp_path: Path) -> Path:
    """A copy of this checkout (without venv, git or results) to run documentation in."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORED)
    return copy


def test_readme_quick_start_is_the_install_then_one_command():
    """The README's first line installs and runs one command (the suite runs the command), its
    second is exactly what CI runs."""
    first, second = [
        b for b in read_blocks(ROOT / "README.md", "README.md") if b.language == "bash"
    ][:2]
    install = f"{VENV_STEP} && {ACTIVATE_STEP} && pip install -q . && "
    assert first.text.startswith(install) and first.text.count("\n") == 1, first.where
    assert first.text.removeprefix(install).startswith("sim "), first.where
    assert second.text.strip() == ci_command(), f"{second.where}: not the last line of .ci/run"


class PageRunsAsWritten:
    """A page's blocks run as written. One class per page, not one parametrized test: pytest-xdist
    (--dist=loadscope) sends each class to a worker of its own, and the pages take minutes."""

    page = ""

    def test_runs_as_written(self, checkout_copy: Path):
        run_page(checkout_copy / self.page, self.page, checkout_copy)


class TestReadme(PageRunsAsWritten):
    page = "README.md"


class TestTutorialFirstRun(PageRunsAsWritten):
    page = "docs/tutorial-first-run.md"


class TestTutorialWritingAScenario(PageRunsAsWritten):
    page = "docs/tutorial-writing-a-scenario.md"


class TestTutorialRestraint(PageRunsAsWritten):
    page = "docs/tutorial-restraint.md"


class TestTutorialExplore(PageRunsAsWritten):
    page = "docs/tutorial-explore.md"


class TestTutorialDask(PageRunsAsWritten):
    page = "docs/tutorial-dask.md"


def test_every_page_is_run():
    """README.md and every docs/tutorial-*.md, a new tutorial included, has its class above."""
    assert sorted(c.page for c in PageRunsAsWritten.__subclasses__()) == sorted(PAGES)


def test_marked_blocks_are_few_and_give_reasons():
    """Every marker sits on a block, every skip or shrink says why, and there are few of them."""
    marked = []
    for page in PAGES:
        blocks = read_blocks(ROOT / page, page)
        markers = (ROOT / page).read_text().count("<!-- docs-test:")
        assert markers == sum(1 for b in blocks if b.marker), f"{page}: a marker not before a block"
        python = False
        for block in blocks:
            if block.marker == "continues":
                assert block.language == "python" and python, f"{block.where}: continues nothing"
            elif block.marker:
                assert block.reason, f"{block.where}: a {block.marker} marker without a reason"
                marked.append(f"{block.where}: {block.marker}: {block.reason}")
            python = python or block.language == "python"
    assert len(marked) <= MAX_MARKED_BLOCKS, "too many blocks not run as written:\n" + "\n".join(
        marked
    )


def test_a_failing_command_names_its_line_and_shows_stderr(tmp_path: Path):
    """The runner fails on a command that fails before an `&&` (which `set -e` would let pass),
    naming page and line of the command, with its stderr."""
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n```bash\necho fine\nls no-such-file && echo x\necho after\n```\n")
    with pytest.raises(pytest.fail.Exception) as failure:
        run_page(page, "page.md", tmp_path)
    assert "page.md:5: `ls no-such-file && echo x` failed" in str(failure.value)
    assert "No such file" in str(failure.value)


def test_a_failing_python_block_names_its_line_and_shows_stderr(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("```python\nprint('fine')\n```\n\n```python\nraise SystemExit('boom')\n```\n")
    with pytest.raises(pytest.fail.Exception) as failure:
        run_page(page, "page.md", tmp_path)
    assert "page.md:5: the Python block failed (exit 1)" in str(failure.value)
    assert "boom" in str(failure.value)


def test_quoted_output_that_is_not_printed_fails(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(
        "```bash\necho 0.480\n```\n\n```text\n0.480\n```\n\n```bash\necho 0.650\n```\n\n```text\n0.480\n```\n"
    )
    with pytest.raises(AssertionError) as failure:
        run_page(page, "page.md", tmp_path)
    assert "page.md:13: quoted output the block above does not print" in str(failure.value)
