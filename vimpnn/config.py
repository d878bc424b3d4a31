"""Reading a YAML config file with an error that names the file."""

from __future__ import annotations

from pathlib import Path

from vimpnn.errors import InputFormatError


def _yaml_where(exc) -> str:
    """PyYAML's multi-line message as one line: where (1-based line, column) and what."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    return f"{where}: {problem}" + (f" ({context})" if context else "")


def load_config(path: str | Path, what: str = "config file") -> dict:
    """A YAML mapping; `what` names the kind of file in the errors (missing, empty, not a mapping)."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"{what} {path} does not exist")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputFormatError(f"{path}: not valid YAML{_yaml_where(exc)}") from None
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if config is None:  # never a silent "all defaults": write `{}` to mean that
        raise InputFormatError(f"{path}: the {what} is empty")
    if not isinstance(config, dict):
        raise InputFormatError(f"{path}: top level must be a mapping of sections")
    return config
