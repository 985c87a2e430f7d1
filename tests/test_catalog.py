"""The catalog is the single source of help text and the README's command reference."""

from __future__ import annotations

from pathlib import Path

from bot.commands.grammar import parse_command
from bot.jvm.catalog import CATALOG, find_tool, usage_lines
from bot.model.request import Options, Request
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
    assert flags.jcmd_line(Options(all=True)) == "VM.flags -all"
    assert flags.jcmd_line(Options()) == "VM.flags"
    assert threaddump.jcmd_line(Options(all=True)) == "Thread.print -l"
