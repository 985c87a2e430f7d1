"""The JSON Schema of Slack's own Block Kit types, generated from npm `@slack/types`.

`schema/package.json` and its lock file pin `@slack/types` and `ts-json-schema-generator`;
the generated schema is cached under `build/fakeslack-schema/`, keyed by the lock file's hash,
so it is made once per pinned version. Nobody on this project wrote these types: they are the
outside oracle for the shape of every `blocks` and `view` the fake receives.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_DIR = Path(__file__).parent / "schema"
REPO = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO / "build" / "fakeslack-schema"
# The names blocks.ts gives the two shapes.
MESSAGE_BLOCKS = "MessageBlocks"
PUBLISHED_VIEW = "PublishedView"


class SchemaUnavailable(RuntimeError):
    """The schema could not be generated: node or the pinned npm packages are missing."""


def _lock_hash() -> str:
    data = (SCHEMA_DIR / "package-lock.json").read_bytes() + (SCHEMA_DIR / "blocks.ts").read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


def _generate(out: Path) -> None:
    generator = SCHEMA_DIR / "node_modules" / ".bin" / "ts-json-schema-generator"
    if not generator.exists():
        # `scripts/bootstrap.sh` runs this; doing it here too keeps a fresh checkout working.
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=SCHEMA_DIR, check=True
        )
    tmp = out.with_suffix(".partial")
    done = subprocess.run(
        [str(generator), "--path", "blocks.ts", "--type", "*", "--no-type-check", "-o", str(tmp)],
        cwd=SCHEMA_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SchemaUnavailable(f"ts-json-schema-generator failed: {done.stderr.strip()}")
    tmp.rename(out)


@functools.cache
def slack_schema() -> dict[str, Any]:
    """The generated schema (`definitions` holds every @slack/types Block Kit type)."""
    cached = CACHE_DIR / f"slack-types-{_lock_hash()}.json"
    if not cached.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        try:
            _generate(cached)
        except (OSError, subprocess.CalledProcessError) as e:
            raise SchemaUnavailable(
                f"cannot generate the Block Kit schema ({e}); run `make bootstrap`"
            ) from e
    schema: dict[str, Any] = json.loads(cached.read_text())
    return schema


@functools.cache
def _validator(definition: str) -> Draft7Validator:
    schema = slack_schema()
    return Draft7Validator({"$ref": f"#/definitions/{definition}", **schema})


@functools.cache
def _block_definitions() -> dict[str, str]:
    """Block `type` → the @slack/types definition for it, read from `KnownBlock`'s union."""
    definitions = slack_schema()["definitions"]
    by_type = {}
    for option in definitions["KnownBlock"]["anyOf"]:
        name = option["$ref"].rsplit("/", 1)[1]
        # A block that comes in variants (image: by URL or by Slack file) is a union itself.
        for variant in definitions[name].get("anyOf", [definitions[name]]):
            kind = variant.get("properties", {}).get("type", {}).get("const")
            if isinstance(kind, str):
                by_type[kind] = name
    return by_type


def _pointer(base: str, error: ValidationError) -> str:
    return base + "".join(f"/{part}" for part in error.absolute_path)


def _deepest(error: ValidationError) -> ValidationError:
    # anyOf/oneOf failures hold one sub-error per branch; the best one names the real field.
    while error.context:
        error = best_match(error.context) or error.context[0]
    return error


def block_schema_errors(block: Any, pointer: str) -> list[tuple[str, str]]:
    """(message, json-pointer) for each way `block` breaks @slack/types."""
    if not isinstance(block, dict):
        return [("must be an object", pointer)]
    kind = block.get("type")
    definition = _block_definitions().get(str(kind))
    if definition is None:
        return [(f"unsupported type: {kind!r}", f"{pointer}/type")]
    errors = sorted(_validator(definition).iter_errors(block), key=lambda e: list(e.path))
    return [(e.message, _pointer(pointer, e)) for e in map(_deepest, errors)]


def view_schema_errors(view: Any) -> list[tuple[str, str]]:
    """(message, json-pointer) for each way a Home `view` breaks @slack/types (blocks aside:
    those are checked one by one, for precise pointers)."""
    if not isinstance(view, dict):
        return [("must be an object", "/view")]
    shell = {**view, "blocks": []}
    errors = _validator(PUBLISHED_VIEW).iter_errors(shell)
    return [(e.message, _pointer("/view", e)) for e in map(_deepest, errors)]
