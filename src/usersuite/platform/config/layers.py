"""The layers under Settings: what the config file and the environment set, the names in them
that are no setting (with the closest one that is), and which layer gave each value."""

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic import BaseModel

ENV_PREFIX = "USERSUITE_"
NESTED_DELIMITER = "__"
Source = Literal["default", "file", "environment", "flag"]
SettingPath = tuple[str, ...]


def _group(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def setting_paths(model: type[BaseModel], prefix: SettingPath = ()) -> list[SettingPath]:
    """Every setting of `model` as its path of field names; a group is not a setting itself."""
    paths: list[SettingPath] = []
    for name, info in model.model_fields.items():
        group = _group(info.annotation)
        paths += setting_paths(group, (*prefix, name)) if group else [(*prefix, name)]
    return paths


def names_a_setting(model: type[BaseModel], path: SettingPath) -> bool:
    """Whether `path` reaches a setting: a group alone is none (`USERSUITE_DATABASE` is a
    prefix of `USERSUITE_DATABASE_URL`, not the database group as JSON), and only a mapping
    setting (`auth.signing_keys`) takes keys below it."""
    if not path or path[0] not in model.model_fields:
        return False
    annotation = model.model_fields[path[0]].annotation
    group = _group(annotation)
    if group is not None:
        return names_a_setting(group, path[1:])
    return len(path) == 1 or get_origin(annotation) is dict


def env_path(name: str) -> SettingPath:
    """`USERSUITE_TLS__CERT_FILE` -> ("tls", "cert_file"); names are case-insensitive."""
    return tuple(name[len(ENV_PREFIX) :].lower().split(NESTED_DELIMITER))


def env_name(path: SettingPath) -> str:
    return ENV_PREFIX + NESTED_DELIMITER.join(path).upper()


def _closest(name: str, candidates: list[str]) -> str | None:
    matches = difflib.get_close_matches(name, candidates, n=1)
    return matches[0] if matches else None


@dataclass(frozen=True)
class UnknownSetting:
    """A name in the environment or the config file that no setting has."""

    name: str
    suggestion: str | None
    file: Path | None = None

    def __str__(self) -> str:
        where = f" in {self.file}" if self.file is not None else ""
        hint = f"; did you mean {self.suggestion}?" if self.suggestion else ""
        return f"{self.name}{where} is not a setting{hint}"


def unknown_in_environment(
    model: type[BaseModel], environ: Mapping[str, str]
) -> list[UnknownSetting]:
    known = [env_name(path) for path in setting_paths(model)]
    return [
        UnknownSetting(name, _closest(name.upper(), known))
        for name in sorted(environ)
        if name.upper().startswith(ENV_PREFIX) and not names_a_setting(model, env_path(name))
    ]


def environment_layer(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, Any]:
    """The paths the environment sets, nested like the file (values are not needed)."""
    layer: dict[str, Any] = {}
    for name in environ:
        path = env_path(name)
        if name.upper().startswith(ENV_PREFIX) and names_a_setting(model, path):
            node = layer
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = True
    return layer


def read_file(model: type[BaseModel], file: Path) -> tuple[dict[str, Any], list[UnknownSetting]]:
    """The file's settings without its unknown keys, and those keys."""
    with file.open("rb") as handle:
        data = tomllib.load(handle)
    known = [".".join(path) for path in setting_paths(model)]
    unknown: list[UnknownSetting] = []

    def known_part(
        table: dict[str, Any], group: type[BaseModel], prefix: SettingPath
    ) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for key, value in table.items():
            info = group.model_fields.get(key)
            inner = _group(info.annotation) if info is not None else None
            if inner is not None and isinstance(value, dict):
                kept[key] = known_part(value, inner, (*prefix, key))
            elif info is not None:
                kept[key] = value
            else:
                dotted = ".".join((*prefix, key))
                unknown.append(UnknownSetting(dotted, _closest(dotted, known), file))
        return kept

    return known_part(data, model, ()), unknown


def _sets(layer: Mapping[str, Any], path: SettingPath) -> bool:
    node: Any = layer
    for part in path:
        if not isinstance(node, Mapping):
            return True  # a whole group given at once (a flag holding a model)
        if part not in node:
            return False
        node = node[part]
    return True


def value_sources(
    model: type[BaseModel],
    flags: Mapping[str, Any],
    environment: Mapping[str, Any],
    file: Mapping[str, Any],
) -> dict[str, Source]:
    """Each setting's dotted name and the highest layer that set it."""
    layers: tuple[tuple[Source, Mapping[str, Any]], ...] = (
        ("flag", flags),
        ("environment", environment),
        ("file", file),
    )
    return {
        ".".join(path): next((name for name, layer in layers if _sets(layer, path)), "default")
        for path in setting_paths(model)
    }
