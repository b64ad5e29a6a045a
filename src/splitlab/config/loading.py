"""Loading an experiment definition from a file, a JSON string or a mapping."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from splitlab.config.checks import check_experiment
from splitlab.config.errors import MISSING, ConfigError, Problem
from splitlab.config.layers import MAX_HOLDOUT_PERCENT
from splitlab.config.limits import MAX_DOCUMENT_DEPTH, deepest_path, text_too_deep
from splitlab.config.models import Experiment

ID_EXPECTED = (
    "an id of 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
)

Source = str | PathLike[str] | Mapping[str, Any]


def load_experiment(source: Source) -> Experiment:
    """Load and validate one definition; raise :class:`ConfigError` listing every problem.

    `source` is a path to a JSON file, or an already parsed mapping (camelCase, as the
    article's configuration template).
    """
    if isinstance(source, Mapping):
        return parse_experiment(source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem("$", str(path), "an existing file")], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [Problem("$", str(path), f"a readable UTF-8 file ({exc})")], str(path)
        ) from None
    return parse_experiment(parse_json(text, str(path)), str(path))


def parse_json(text: str, source: str | None = None) -> Any:
    """Parse strict JSON (no NaN / Infinity, no duplicate keys) or raise ConfigError."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    deep = text_too_deep(text, MAX_DOCUMENT_DEPTH)
    if deep is not None:
        line, column = deep
        expected = f"JSON nested at most {MAX_DOCUMENT_DEPTH} arrays and objects deep"
        problem = Problem("$", f"more than {MAX_DOCUMENT_DEPTH} levels", expected, line, column)
        raise ConfigError([problem], source)
    try:
        return json.loads(text, parse_constant=no_constants, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError([_syntax_problem(exc)], source) from None
    except ValueError as exc:
        raise ConfigError(
            [Problem("$", str(exc), "valid JSON without NaN, Infinity or duplicate keys")], source
        ) from None


#: What the JSON parser's messages were looking for, in words.
_SYNTAX_EXPECTED = {
    "Expecting value": "a JSON value (an object, array, string, number, true, false or null)",
    "Expecting ',' delimiter": "',' or a closing bracket",
    "Expecting ':' delimiter": "':' after the key",
    "Expecting property name enclosed in double quotes": "a key in double quotes, or '}'",
    "Unterminated string starting at": "a closing '\"' for the string that starts here",
    "Invalid control character at": "no raw control character inside a string (write \\n)",
    "Invalid \\escape": 'an escape such as \\" \\\\ \\n \\t or \\uXXXX',
    "Invalid \\uXXXX escape": "four hex digits after \\u",
    "Extra data": "the end of the text after the JSON value",
}


def _syntax_problem(exc: json.JSONDecodeError) -> Problem:
    """A JSON syntax error as a problem at its line and column, saying what was expected."""
    expected = "valid JSON: " + _SYNTAX_EXPECTED.get(exc.msg, exc.msg)
    rest = exc.doc[exc.pos :].split("\n", 1)[0]
    if exc.pos >= len(exc.doc.rstrip()):
        found: Any = "the end of the text (is it cut short?)"
    else:
        found = rest[:20] + ("..." if len(rest) > 20 else "")
    return Problem("$", found, expected, exc.lineno, exc.colno)


def parse_experiment(raw: Mapping[str, Any], source: str | None = None) -> Experiment:
    """Validate a parsed definition; every field and cross-field problem is listed at once."""
    if not isinstance(raw, Mapping):
        raise ConfigError([Problem("$", raw, "a JSON object (the experiment definition)")], source)
    deep = deepest_path(raw, MAX_DOCUMENT_DEPTH)
    if deep is not None:
        expected = f"a definition nested at most {MAX_DOCUMENT_DEPTH} arrays and objects deep"
        raise ConfigError(
            [Problem(deep, f"more than {MAX_DOCUMENT_DEPTH} levels", expected)], source
        )
    problems = check_experiment(raw)
    try:
        experiment = Experiment.model_validate(dict(raw), context={"skip_checks": True})
    except ValidationError as exc:
        problems = _from_pydantic(exc, Experiment) + problems
    else:
        if not problems:
            return experiment
    raise ConfigError(_dedupe(problems), source)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        key = (p.path, p.expected)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _from_pydantic(exc: ValidationError, root: type[BaseModel]) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = _json_path(loc)
        value = err.get("input", MISSING)
        kind = err["type"]
        if kind == "missing":
            problems.append(Problem(path, MISSING, "a value (this key is required)"))
        elif kind == "extra_forbidden":
            problems.append(Problem(path, value, _unknown_key(root, loc)))
        elif kind in {"union_tag_invalid", "union_tag_not_found"}:
            ctx = err.get("ctx") or {}
            tag = ctx.get("tag", MISSING) if kind == "union_tag_invalid" else MISSING
            expected = "one of " + ", ".join(repr(t) for t in DESIGN_TAGS_ORDERED)
            problems.append(
                Problem(
                    f"{path}.{ctx.get('discriminator', 'type')}".replace("'", ""), tag, expected
                )
            )
        elif kind in {"too_short", "too_long"} and isinstance(value, list):
            ctx = err.get("ctx") or {}
            bound = ctx.get("min_length" if kind == "too_short" else "max_length")
            side = "at least" if kind == "too_short" else "at most"
            noun = "item" if bound == 1 else "items"
            problems.append(Problem(path, value, f"a list of {side} {bound} {noun}"))
        elif kind == "less_than_equal" and loc[:3] == ("design", "holdout", "percent"):
            expected = (
                f"a holdout of at most {MAX_HOLDOUT_PERCENT:g}% of the units (percent in (0, 50])"
            )
            problems.append(Problem(path, value, expected))
        elif kind == "string_pattern_mismatch" and path == "$.experimentId":
            problems.append(Problem(path, value, ID_EXPECTED))
        else:
            if isinstance(value, float) and not math.isfinite(value):
                value = repr(value)
            expected = _expected(err["msg"])
            if kind in {"literal_error", "enum"}:
                expected = "one of " + expected
            problems.append(Problem(path, value, expected))
    return problems


def _unknown_key(root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """What an unknown key should have been: the closest known key, and all of them."""
    known = _known_keys(root, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1) if known else []
    guess = f": did you mean {close[0]!r}?" if close else ""
    listed = f"; known keys here: {', '.join(known)}" if known else ""
    return f"a known key (unknown key{guess}{listed})"


#: The tags pydantic puts in an error's location for a tagged union (``design``'s ``type``),
#: in the order the documentation lists them.
DESIGN_TAGS_ORDERED = ("cluster", "switchback", "canary", "bandit", "holdout")
DESIGN_TAGS = frozenset(DESIGN_TAGS_ORDERED)


def _json_path(loc: tuple[Any, ...]) -> str:
    out = "$"
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and loc[i - 1] == "design" and part in DESIGN_TAGS:
            continue
        elif isinstance(part, str) and not _is_union_tag(part):
            out += f".{part}"
    return out


def _is_union_tag(part: str) -> bool:
    return part in {"str", "float", "int", "bool", "list", "dict"} or "[" in part


def _expected(msg: str) -> str:
    for prefix in ("Input should be ", "Value error, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    if msg.startswith("String should have "):  # "expected a string of at least 1 character"
        return "a string of " + msg[len("String should have ") :]
    return msg[0].lower() + msg[1:] if msg else "a valid value"


def _known_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The camelCase keys the model at `loc` accepts (empty when it cannot tell)."""
    model: Any = root
    for i, part in enumerate(loc):
        if i > 0 and loc[i - 1] == "design" and part in DESIGN_TAGS:
            model = _design_model(part)
            continue
        if isinstance(part, int) or not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        field = next(
            (f for name, f in model.model_fields.items() if (f.alias or name) == part), None
        )
        if field is None:
            return []
        model = _model_of(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _design_model(tag: str) -> type[BaseModel]:
    """The model of the design whose ``type`` is `tag` (one of :data:`DESIGN_TAGS`)."""
    from splitlab.config.adaptive import BanditDesign, CanaryDesign
    from splitlab.config.designs import ClusterDesign, SwitchbackDesign
    from splitlab.config.layers import HoldoutDesign

    models: dict[str, type[BaseModel]] = {
        "cluster": ClusterDesign,
        "switchback": SwitchbackDesign,
        "canary": CanaryDesign,
        "bandit": BanditDesign,
        "holdout": HoldoutDesign,
    }
    return models[tag]


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
