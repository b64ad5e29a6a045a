"""Loading the source catalog (:mod:`splitlab.config.sources`) from its JSON file.

Problems are reported as the definitions' are (:class:`~splitlab.config.errors.ConfigError`:
JSON path, value, what was expected), all at once. Paths of ``files`` tables are made absolute
(a relative path is relative to the catalog file's folder) and each gets its format, from the
suffix when not given. A ``postgresql`` source's ``dsnEnv`` is read when the source is used
(:func:`resolve_dsn`), so the variable may be set after the catalog is loaded.
"""

from __future__ import annotations

import os
from os import PathLike
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from splitlab.config.errors import ConfigError, Problem, count
from splitlab.config.loading import _from_pydantic, parse_json
from splitlab.config.sources import FilesSource, FileTable, PostgresSource, SourceCatalog

Format = Literal["parquet", "csv"]

#: The environment variable naming the catalog file when ``--sources`` is not given.
SOURCES_ENV = "SPLITLAB_SOURCES"

_SUFFIXES: dict[str, Format] = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
}


class SourcesError(ConfigError):
    """The source catalog was refused; ``.problems`` lists every reason."""

    code = "invalid_sources"

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        super().__init__(problems, source)
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        self.args = (f"invalid source catalog{where}: {count(len(problems), 'problem')}\n{lines}",)

    def __str__(self) -> str:
        return str(self.args[0])


def load_sources(path: str | PathLike[str]) -> SourceCatalog:
    """Read and check the catalog file at `path` (see the module docstring)."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourcesError([Problem("$", where, "an existing file")], where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError([Problem("$", where, f"a readable UTF-8 file ({exc})")], where) from None
    try:
        raw = parse_json(text, where)
    except ConfigError as exc:
        raise SourcesError(exc.problems, where) from None
    return parse_sources(raw, Path(path).resolve().parent, where)


def parse_sources(raw: Any, base: Path, where: str | None = None) -> SourceCatalog:
    """Check a parsed catalog; relative table paths are taken relative to `base`."""
    if not isinstance(raw, dict):
        expected = 'a JSON object such as {"sources": {"name": {"type": "files", ...}}}'
        raise SourcesError([Problem("$", raw, expected)], where)
    try:
        catalog = SourceCatalog.model_validate(raw)
    except ValidationError as exc:
        refused = _problems(exc)
        # pydantic stops before the rules below; check each source alone so that a source
        # missing its dsn is listed with another source's problem, not after it is fixed
        named = raw.get("sources")
        for name, one in named.items() if isinstance(named, dict) and len(named) > 1 else ():
            try:
                parse_sources({"sources": {name: one}}, base)
            except SourcesError as alone:
                refused += [p for p in alone.problems if p not in refused]
        raise SourcesError(refused, where) from None
    problems: list[Problem] = []
    sources = dict(catalog.sources)
    for name, source in catalog.sources.items():
        at = f"$.sources.{name}"
        if isinstance(source, PostgresSource):
            if (source.dsn is None) == (source.dsn_env is None):
                value = {"dsn": source.dsn, "dsnEnv": source.dsn_env}
                expected = "exactly one of dsn and dsnEnv (a connection string, or the name of "
                expected += "an environment variable holding one)"
                problems.append(Problem(at, value, expected))
        elif isinstance(source, FilesSource):
            tables = {}
            for table, spec in source.tables.items():
                fmt = spec.format or _format_of(spec.path)
                if fmt is None:
                    expected = "a format ('parquet' or 'csv'), or a path ending in "
                    expected += ", ".join(_SUFFIXES)
                    problems.append(Problem(f"{at}.tables.{table}.path", spec.path, expected))
                    continue
                full = Path(spec.path).expanduser()
                full = full if full.is_absolute() else base / full
                tables[table] = FileTable(path=str(full), format=fmt)
            if tables:
                sources[name] = FilesSource(type="files", tables=tables)
    if problems:
        raise SourcesError(problems, where)
    return SourceCatalog(sources=sources)


_TYPES = ("files", "postgresql", "clickhouse")


def _problems(exc: ValidationError) -> list[Problem]:
    """pydantic's errors as problems, without the source type pydantic puts in the path."""
    out = []
    for problem, err in zip(_from_pydantic(exc, SourceCatalog), exc.errors(), strict=False):
        loc = [str(part) for part in err["loc"]]
        path = problem.path
        if len(loc) >= 3 and loc[0] == "sources" and loc[2] in _TYPES:
            path = path.replace(f"$.sources.{loc[1]}.{loc[2]}", f"$.sources.{loc[1]}", 1)
        expected = problem.expected
        if err["type"] in {"union_tag_invalid", "union_tag_not_found"}:
            expected = "one of " + ", ".join(repr(t) for t in _TYPES)
        elif err["type"] == "string_pattern_mismatch" and loc[-1] == "[key]":
            expected = "a table name: a letter or '_', then letters, digits or '_' (at most 63)"
        out.append(Problem(path, problem.value, expected))
    return out


def _format_of(path: str) -> Format | None:
    lower = path.lower()
    for suffix, fmt in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if lower.endswith(suffix):
            return fmt
    return None


def resolve_dsn(name: str, source: PostgresSource) -> str:
    """The connection string of `source` (named `name`), reading ``dsnEnv`` now.

    Raises :class:`SourcesError` naming the variable when it is unset or empty.
    """
    if source.dsn is not None:
        return source.dsn
    variable = source.dsn_env or ""
    value = os.environ.get(variable, "")
    if not value:
        expected = f"the environment variable {variable} set to a PostgreSQL connection string"
        raise SourcesError([Problem(f"$.sources.{name}.dsnEnv", variable, expected)])
    return value
