"""What Slack refuses in `blocks` and `view`s, judged by three oracles nobody here wrote:
the JSON Schema of npm `@slack/types` (block_schema.py), slack_sdk's own block models
(`Block.parse(...).validate_json()`), and the documented limits in limits.py.

Errors read like Slack's: `<what is wrong> [json-pointer:/blocks/0/text/text]`, answered as
`invalid_blocks` (response shape from slackapi/java-slack-sdk#1017 and node-slack-sdk#832).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from tests.fakeslack import limits
from tests.fakeslack.block_schema import block_schema_errors, view_schema_errors
from tests.fakeslack.errors import SlackError


def _too_long(limit: int, pointer: str) -> str:
    return f"must be less than {limit + 1} characters [json-pointer:{pointer}]"


def _too_many(limit: int, pointer: str) -> str:
    return f"must provide no more than {limit} items [json-pointer:{pointer}]"


def _text_of(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else ""


def _elements(block: dict[str, Any], pointer: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every interactive element of a block, with its pointer."""
    if isinstance(block.get("accessory"), dict):
        yield block["accessory"], f"{pointer}/accessory"
    if isinstance(block.get("element"), dict):
        yield block["element"], f"{pointer}/element"
    if block.get("type") in ("actions", "context"):
        for i, element in enumerate(block.get("elements") or []):
            if isinstance(element, dict):
                yield element, f"{pointer}/elements/{i}"


def _element_limits(element: dict[str, Any], pointer: str) -> list[str]:
    errors = []
    if len(str(element.get("action_id", ""))) > limits.ACTION_ID:
        errors.append(_too_long(limits.ACTION_ID, f"{pointer}/action_id"))
    if element.get("type") == "button":
        if len(_text_of(element.get("text"))) > limits.BUTTON_TEXT:
            errors.append(_too_long(limits.BUTTON_TEXT, f"{pointer}/text/text"))
        if len(str(element.get("value", ""))) > limits.BUTTON_VALUE:
            errors.append(_too_long(limits.BUTTON_VALUE, f"{pointer}/value"))
        if len(str(element.get("url", ""))) > limits.BUTTON_URL:
            errors.append(_too_long(limits.BUTTON_URL, f"{pointer}/url"))
    return errors


def _block_limits(block: dict[str, Any], pointer: str) -> list[str]:
    errors = []
    kind = block.get("type")
    if len(str(block.get("block_id", ""))) > limits.BLOCK_ID:
        errors.append(_too_long(limits.BLOCK_ID, f"{pointer}/block_id"))
    if kind == "section":
        if len(_text_of(block.get("text"))) > limits.SECTION_TEXT:
            errors.append(_too_long(limits.SECTION_TEXT, f"{pointer}/text/text"))
        fields = block.get("fields") or []
        if len(fields) > limits.SECTION_FIELDS:
            errors.append(_too_many(limits.SECTION_FIELDS, f"{pointer}/fields"))
        for i, item in enumerate(fields):
            if len(_text_of(item)) > limits.SECTION_FIELD_TEXT:
                errors.append(_too_long(limits.SECTION_FIELD_TEXT, f"{pointer}/fields/{i}/text"))
    elif kind == "header" and len(_text_of(block.get("text"))) > limits.HEADER_TEXT:
        errors.append(_too_long(limits.HEADER_TEXT, f"{pointer}/text/text"))
    elif kind == "markdown" and len(str(block.get("text", ""))) > limits.MARKDOWN_BLOCK_TEXT:
        errors.append(_too_long(limits.MARKDOWN_BLOCK_TEXT, f"{pointer}/text"))
    elif kind == "context" and len(block.get("elements") or []) > limits.CONTEXT_ELEMENTS:
        errors.append(_too_many(limits.CONTEXT_ELEMENTS, f"{pointer}/elements"))
    elif kind == "actions" and len(block.get("elements") or []) > limits.ACTIONS_ELEMENTS:
        errors.append(_too_many(limits.ACTIONS_ELEMENTS, f"{pointer}/elements"))
    for element, where in _elements(block, pointer):
        errors += _element_limits(element, where)
    return errors


def _sdk_errors(block: dict[str, Any], pointer: str) -> list[str]:
    """What slack_sdk's model of the block refuses (it knows nested limits of its own)."""
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [f"unsupported type: {block.get('type')!r} [json-pointer:{pointer}/type]"]
        parsed.validate_json()
    except SlackObjectFormationError as e:
        return [f"{e} [json-pointer:{pointer}]"]
    except (TypeError, ValueError, AttributeError, KeyError) as e:
        return [f"invalid block: {e} [json-pointer:{pointer}]"]
    return []


def _duplicate_action_ids(blocks: list[Any], base: str) -> list[str]:
    # Block Kit: action_id "should be unique among all other action_ids in the containing
    # block" (button-element page); Slack refuses duplicates in one message as invalid_blocks.
    seen: dict[str, str] = {}
    errors = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        for element, where in _elements(block, f"{base}/{i}"):
            action_id = element.get("action_id")
            if not isinstance(action_id, str):
                continue
            if action_id in seen:
                errors.append(
                    f"action_id {action_id!r} already exists at {seen[action_id]}"
                    f" [json-pointer:{where}/action_id]"
                )
            else:
                seen[action_id] = where
    return errors


def _all_texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _all_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _all_texts(item)


def blocks_text_length(blocks: list[Any]) -> int:
    """All the `text` strings in the blocks, added up, as `msg_blocks_too_long` counts them."""
    return sum(len(text) for text in _all_texts(blocks))


def block_errors(blocks: Any, *, max_blocks: int, base: str = "/blocks") -> list[str]:
    """Slack-style errors for `blocks`; empty when Slack would accept them."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{base}]"]
    errors = []
    if len(blocks) > max_blocks:
        errors.append(_too_many(max_blocks, base))
    for i, block in enumerate(blocks):
        pointer = f"{base}/{i}"
        schema = block_schema_errors(block, pointer)
        errors += [f"{message} [json-pointer:{where}]" for message, where in schema]
        if isinstance(block, dict):
            errors += _block_limits(block, pointer)
        if isinstance(block, dict) and not schema:
            errors += _sdk_errors(block, pointer)
    errors += _duplicate_action_ids(blocks, base)
    return list(dict.fromkeys(errors))  # one oracle's finding may repeat another's


def invalid_blocks(errors: list[str], error: str = "invalid_blocks") -> SlackError:
    """Slack's answer to blocks it refuses."""
    return SlackError(
        error, errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
    )


def check_message_blocks(blocks: Any, *, total_limit: bool = True) -> None:
    """Raise Slack's error for message `blocks` it would refuse (chat.* and response_url)."""
    errors = block_errors(blocks, max_blocks=limits.MAX_BLOCKS_MESSAGE)
    if errors:
        raise invalid_blocks(errors)
    if total_limit and blocks_text_length(blocks) > limits.MAX_BLOCKS_TEXT_TOTAL:
        raise SlackError("msg_blocks_too_long")


def check_view(view: Any) -> None:
    """Raise Slack's error for a `views.publish` view it would refuse."""
    if not isinstance(view, dict) or view.get("type") != "home":
        raise SlackError("invalid_arguments")
    errors = [f"{m} [json-pointer:{p}]" for m, p in view_schema_errors(view)]
    errors += block_errors(
        view.get("blocks") or [], max_blocks=limits.MAX_BLOCKS_VIEW, base="/view/blocks"
    )
    if errors:
        raise invalid_blocks(errors, "invalid_arguments")
