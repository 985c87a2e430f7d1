"""Rewrite the README's command reference from the catalog (`make readme`); a test checks
that the committed README matches, so the two cannot drift."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.commands.help import markdown_reference

BEGIN = "<!-- commands:begin (generated from bot/jvm/catalog.py by `make readme`) -->"
END = "<!-- commands:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def render(readme: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{markdown_reference()}{END}{tail}"


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
    sys.exit(0)
