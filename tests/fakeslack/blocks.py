"""Block Kit size limits the fake enforces, so a bot that would be refused by Slack is refused here.

Limits are from Slack's Block Kit reference (docs.slack.dev/reference/block-kit/blocks and
.../block-elements); the error text and `[json-pointer:...]` suffix follow what Slack returns
with `invalid_blocks`. Only size limits are checked, not the full schema.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS_MESSAGE = 50
MAX_BLOCKS_SURFACE = 100  # modals and App Home
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
BLOCK_ID = 255


def _too_long(limit: int, pointer: str) -> str:
    return f"must be less than {limit + 1} characters [json-pointer:{pointer}]"


def _too_many(limit: int, pointer: str) -> str:
    return f"must provide no more than {limit} items [json-pointer:{pointer}]"


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return ""


def _check_element(element: Any, pointer: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"must be an object [json-pointer:{pointer}]"]
    errors = []
    if len(str(element.get("action_id", ""))) > ACTION_ID:
        errors.append(_too_long(ACTION_ID, f"{pointer}/action_id"))
    if element.get("type") == "button":
        if len(_text_of(element.get("text"))) > BUTTON_TEXT:
            errors.append(_too_long(BUTTON_TEXT, f"{pointer}/text/text"))
        if len(str(element.get("value", ""))) > BUTTON_VALUE:
            errors.append(_too_long(BUTTON_VALUE, f"{pointer}/value"))
    return errors


def _check_block(block: Any, pointer: str) -> list[str]:
    if not isinstance(block, dict) or "type" not in block:
        return [f"missing required field: type [json-pointer:{pointer}]"]
    errors = []
    kind = block["type"]
    if len(str(block.get("block_id", ""))) > BLOCK_ID:
        errors.append(_too_long(BLOCK_ID, f"{pointer}/block_id"))
    if kind == "section":
        if len(_text_of(block.get("text"))) > SECTION_TEXT:
            errors.append(_too_long(SECTION_TEXT, f"{pointer}/text/text"))
        fields = block.get("fields") or []
        if len(fields) > MAX_FIELDS:
            errors.append(_too_many(MAX_FIELDS, f"{pointer}/fields"))
        for i, item in enumerate(fields):
            if len(_text_of(item)) > FIELD_TEXT:
                errors.append(_too_long(FIELD_TEXT, f"{pointer}/fields/{i}/text"))
        if "accessory" in block:
            errors += _check_element(block["accessory"], f"{pointer}/accessory")
    elif kind == "header":
        if len(_text_of(block.get("text"))) > HEADER_TEXT:
            errors.append(_too_long(HEADER_TEXT, f"{pointer}/text/text"))
    elif kind == "context":
        if len(block.get("elements") or []) > MAX_CONTEXT_ELEMENTS:
            errors.append(_too_many(MAX_CONTEXT_ELEMENTS, f"{pointer}/elements"))
    elif kind == "actions":
        elements = block.get("elements") or []
        if len(elements) > MAX_ACTIONS_ELEMENTS:
            errors.append(_too_many(MAX_ACTIONS_ELEMENTS, f"{pointer}/elements"))
        for i, element in enumerate(elements):
            errors += _check_element(element, f"{pointer}/elements/{i}")
    return errors


def block_errors(blocks: Any, *, max_blocks: int = MAX_BLOCKS_MESSAGE) -> list[str]:
    """Slack-style errors for each limit `blocks` breaks; empty when Slack would accept it."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors = []
    if len(blocks) > max_blocks:
        errors.append(_too_many(max_blocks, "/blocks"))
    for i, block in enumerate(blocks):
        errors += _check_block(block, f"/blocks/{i}")
    return errors
