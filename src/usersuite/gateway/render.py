"""YAML for Envoy's configuration, without a YAML library: block style, JSON-quoted strings."""

import json
import re
from typing import Any

# Strings that read back as themselves when left unquoted; anything else is JSON-quoted, which
# YAML reads as a double-quoted scalar with the same escapes.
PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if PLAIN.match(text) and text.lower() not in RESERVED:
        return text
    return json.dumps(text)


def _lines(value: Any, indent: str) -> list[str]:
    if isinstance(value, dict):
        if not value:
            return [f"{indent}{{}}"]
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{indent}{scalar(key)}:")
                lines.extend(_lines(item, indent + "  "))
            else:
                lines.append(f"{indent}{scalar(key)}: {_inline(item)}")
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict | list) and item:
                inner = _lines(item, indent + "  ")
                lines.append(f"{indent}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{indent}- {_inline(item)}")
        return lines
    return [f"{indent}{scalar(value)}"]


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)


def to_yaml(config: dict[str, Any]) -> str:
    return "\n".join(_lines(config, "")) + "\n"
