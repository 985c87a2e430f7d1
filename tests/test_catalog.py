"""The catalog is the single source of help text and the README's command reference."""

from __future__ import annotations

from pathlib import Path

from bot.commands.grammar import parse_command
from bot.commands.help import help_lines, usage_lines
from bot.jvm.catalog import CATALOG, find_tool
from bot.jvm.steps import Fetch, Jcmd, Pause
from bot.model.request import Request
from scripts.readme_reference import render

REPO = Path(__file__).resolve().parents[1]


def test_readme_command_reference_is_generated_from_the_catalog():
    readme = (REPO / "README.md").read_text()
    assert readme == render(readme), "run `make readme` to regenerate the command reference"
    for tool in CATALOG:
        assert f"`/jdebug {tool.example}`" in readme


def test_readme_starts_with_the_two_commands():
    first_block = (REPO / "README.md").read_text().split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


def test_every_example_in_the_catalog_parses_to_its_own_tool():
    for tool in CATALOG:
        parsed = parse_command(tool.example)
        assert isinstance(parsed, Request) and parsed.tool == tool.name


def test_help_lists_every_tool_and_alias():
    text = "\n".join(usage_lines())
    for tool in CATALOG:
        assert tool.name in text
        for alias in tool.aliases:
            assert find_tool(alias) is tool
            assert alias in text


def test_all_option_changes_the_jcmd_line_only_for_tools_that_take_it():
    flags, threaddump = find_tool("flags"), find_tool("threaddump")
    assert flags and threaddump
    assert flags.steps(flags.defaults(all=True)) == (Jcmd("flags", "VM.flags -all"),)
    assert flags.steps(flags.defaults()) == (Jcmd("flags", "VM.flags"),)
    assert threaddump.option("all") is None


def test_repeated_dumps_become_steps_with_pauses_between():
    threaddump = find_tool("threaddump")
    assert threaddump
    assert threaddump.steps(threaddump.defaults(count=3, interval=7)) == (
        Jcmd("threaddump.1", "Thread.print -l"),
        Pause(7),
        Jcmd("threaddump.2", "Thread.print -l"),
        Pause(7),
        Jcmd("threaddump.3", "Thread.print -l"),
        # Then JDK 21+'s JSON dump (virtual threads); older JDKs refuse it, which is no error.
        Jcmd("threaddump.json.cmd", "Thread.dump_to_file -format=json @FILE.json@", optional=True),
        Fetch("threaddump.json", "json", optional=True, attached=True, virtual_threads_only=True),
    )


def test_help_for_one_tool_names_its_options_and_their_defaults():
    lines = help_lines("td")
    assert lines[0].startswith("threaddump (also: td, threads, jstack): ")
    assert "  count=1..10  how many dumps, default 1" in lines
    assert "  interval=1s..60s  the pause between dumps, default 5s" in lines
    assert help_lines(None) == usage_lines()
