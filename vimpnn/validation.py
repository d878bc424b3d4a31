"""One validation of config files and command-line values: the JSON schema Snakemake validates the workflow's
config with (workflow/schemas/config.schema.yaml), applied by every subcommand that reads a config.

The schema is the single definition of every key's type and range; this module adds only what a JSON schema
cannot say (a grid's min <= max, a growth's min_size <= max_size, split fractions not all zero). Errors are
one line naming the file (or flag) and the key: `demo.yaml: dft.cutoff: -5 is less than or equal to ...`.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from vimpnn.errors import InputFormatError

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


@lru_cache(maxsize=1)
def schema() -> dict:
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text())


def _finite_number(checker, instance: Any) -> bool:
    """The schema's `number`: JSON has no NaN or infinity, but YAML (`.nan`, `.inf`) and float() do."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator.TYPE_CHECKER.is_type(instance, "number") and math.isfinite(instance)


@lru_cache(maxsize=None)
def _validator(section: str | None):
    from jsonschema import Draft202012Validator, validators

    root = schema()
    sub = root if section is None else {**root["properties"][section], "$defs": root["$defs"]}
    checker = Draft202012Validator.TYPE_CHECKER.redefine("number", _finite_number)
    return validators.extend(Draft202012Validator, type_checker=checker)(sub)


def _key(path: list) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error) -> str:
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        return f"unknown key {', '.join(map(repr, extra))} (known: {', '.join(known)})"
    if isinstance(error.instance, float) and not math.isfinite(error.instance):
        return f"{error.instance} is not a finite number"
    text = error.message
    if isinstance(error.instance, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", error.instance):
        text += f" (YAML reads {error.instance} as text; write it with a decimal point, e.g. 1.0e-4)"
    return text


def check(instance: Any, where: str, section: str | None = None, flags: dict[str, str] | None = None,
          error: type[Exception] = InputFormatError) -> None:
    """Raise `error`, one line, for the first value of `instance` that the schema (or a `section` of it) rejects.

    `flags` maps the keys that came from the command line to their flag, so the message names the flag.
    """
    found = _first_error(instance, section)
    if found is None:
        return
    path, text = found
    if flags and path and path[0] in flags:
        raise error(f"{flags[path[0]]}: {text}")
    key = _key(([section] if section else []) + list(path))
    raise error(f"{where}: {key}: {text}" if key else f"{where}: {text}")


def _first_error(instance: Any, section: str | None) -> tuple[list, str] | None:
    from jsonschema.exceptions import best_match

    err = best_match(_validator(section).iter_errors(instance))
    if err is not None:
        return list(err.absolute_path), _message(err)
    root = schema()
    sub = root if section is None else root["properties"][section]
    return next(_relations(sub, instance, []), None)


def _default(schema_node: dict, key: str) -> Any:
    node = schema_node.get("properties", {}).get(key, {})
    if "$ref" in node:
        node = schema()["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node.get("default")


def _relations(node: dict, instance: Any, path: list) -> Iterator[tuple[list, str]]:
    """What the schema cannot express, checked wherever the definitions are used (defaults fill missing keys)."""
    if not isinstance(instance, dict):
        return
    ref = node.get("$ref", "").rsplit("/", 1)[-1]
    if ref:
        node = schema()["$defs"][ref]
    if ref == "grid":
        lo, hi = (instance.get(k, _default(node, k)) for k in ("min", "max"))
        if lo > hi:
            yield path, f"min {lo} is greater than max {hi}"
    if ref == "split" and sum(instance.get(k, _default(node, k)) for k in ("train", "val", "test")) <= 0:
        yield path, "the split fractions are all zero"
    if "min_size" in node.get("properties", {}):
        lo, hi = (instance.get(k, _default(node, k)) for k in ("min_size", "max_size"))
        if lo > hi:
            yield path, f"min_size {lo} is greater than max_size {hi}"
    if node is schema()["properties"]["dft"]:
        for name, override in instance.get("templates", {}).items():  # each template's keys are dft keys
            found = _first_error(override, "dft")
            if found:
                yield ["templates", name] + found[0], found[1]
    for key, value in instance.items():
        child = node.get("properties", {}).get(key)
        if isinstance(child, dict):
            yield from _relations(child, value, path + [key])


def load_checked(path: str | Path, require: tuple[str, ...] = (), what: str = "config file") -> dict:
    """A project config file (YAML), validated against the schema; `require`: sections it must contain, so a
    missing section is an error instead of silently meaning the paper-scale defaults."""
    from vimpnn.config import load_config

    config = load_config(path, what)
    check(config, str(path))
    missing = [s for s in require if s not in config]
    if missing:
        raise InputFormatError(
            f"{path}: no {' or '.join(map(repr, missing))} section; give the dataset's settings explicitly "
            "(left out they would mean paper scale; see config/demo.yaml and config/config.yaml)"
        )
    return config


def positive_int(text: str) -> int:
    """argparse type of counts that are no config key (`evaluate --batch-size`): an integer >= 1."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than the minimum of 1")
    return value
