"""`splitlab allocate`: draw a cluster experiment's allocation table from a list of clusters."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from splitlab.config import ConfigError, load_experiment
from splitlab.config.allocation import MAX_SEED
from splitlab.config.errors import Problem
from splitlab.config.loading import parse_json
from splitlab.stats.allocation import (
    AllocationError,
    Drawn,
    complete_allocation,
    pair_matched_allocation,
    stratified_allocation,
)


@click.command()
@click.argument("definition", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--clusters",
    "clusters_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="CSV file with a header row and one row per cluster.",
)
@click.option("--seed", required=True, type=click.IntRange(0, MAX_SEED), help="Random seed.")
@click.option(
    "--stratum",
    metavar="COLUMN",
    help="Stratified randomisation within the strata given by this column.",
)
@click.option(
    "--match-on",
    metavar="COLUMN",
    help="Pair-matched randomisation on this numeric column (matched sets of one cluster "
    "per variant).",
)
@click.option(
    "--id",
    "id_column",
    metavar="COLUMN",
    help="The column holding the cluster ids (default: the experiment's hashKey, else "
    "'clusterId').",
)
@click.option(
    "--stratum-attribute",
    metavar="NAME",
    help="Optional: an exposure attribute that also carries each cluster's stratum (added "
    "to 'segments'). Not needed: the store reads the strata from the table itself.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the definition here (default: standard output).",
)
def allocate(
    definition: str,
    clusters_file: str,
    seed: int,
    stratum: str | None,
    match_on: str | None,
    id_column: str | None,
    stratum_attribute: str | None,
    output: str | None,
) -> None:
    """Draw the allocation table of the cluster experiment in DEFINITION.

    Reads the clusters from --clusters, randomises them (completely, within --stratum
    strata, or in matched sets on --match-on) from --seed, and writes the definition with
    design.allocation set. The same file and seed always give the same table.
    """
    if stratum is not None and match_on is not None:
        raise click.UsageError("give at most one of --stratum and --match-on")
    experiment = load_experiment(definition)
    raw = parse_json(Path(definition).read_text(encoding="utf-8"), definition)
    design = raw.get("design")
    if not experiment.is_cluster or not isinstance(design, dict):
        raise ConfigError(
            [Problem("$.design", design, 'a cluster design ({"type": "cluster", ...}): '
                     "allocation tables are for cluster experiments")],
            source=definition,
        )  # fmt: skip
    key = id_column or _default_id(clusters_file, experiment.assignment.hash_key)
    rows = _read_rows(clusters_file, [c for c in (key, stratum, match_on) if c])
    ids = [row[key] for _, row in rows]
    variants = list(experiment.variant_names)
    if match_on is not None:
        if len(set(experiment.weights)) > 1:
            raise AllocationError(
                f"--match-on: expected equal variant weights for matched sets of one cluster "
                f"per variant (the weights are {list(experiment.weights)})"
            )
        values = [_number(clusters_file, line, match_on, row[match_on]) for line, row in rows]
        drawn = pair_matched_allocation(ids, values, variants, seed)
    elif stratum is not None:
        drawn = stratified_allocation(
            ids, [row[stratum] for _, row in rows], variants, seed, experiment.weights
        )
    else:
        drawn = complete_allocation(ids, variants, seed, experiment.weights)
    # No attribute by default: the store labels clusters with the table's strata itself.
    attribute = stratum_attribute
    design["allocation"] = _allocation_json(drawn, stratum or match_on, attribute)
    if attribute is not None:
        segments = raw.setdefault("segments", [])
        if isinstance(segments, list) and attribute not in segments:
            segments.append(attribute)
    load_experiment(raw)  # the written definition must load (e.g. trafficAllocation 1)
    text = json.dumps(raw, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
    _summary(drawn, variants)


def _allocation_json(drawn: Drawn, column: str | None, attribute: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"method": drawn.method, "seed": drawn.seed, "table": drawn.table}
    if drawn.strata is not None:
        out["strata"] = drawn.strata
    if column is not None:
        out["column"] = column
    if attribute is not None:
        out["stratumAttribute"] = attribute
    return out


def _default_id(path: str, hash_key: str) -> str:
    header = _header(path)
    for name in (hash_key, "clusterId"):
        if name in header:
            return name
    raise AllocationError(
        f"{path}: expected a column named {hash_key!r} (the experiment's hashKey) or "
        f"'clusterId', or --id COLUMN (columns: {', '.join(header) or 'none'})"
    )


def _header(path: str) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def _read_rows(path: str, needed: list[str]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for every data row; each needed column present and non-empty."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for column in needed:
            if column not in header:
                raise AllocationError(
                    f"{path}: expected a column {column!r} (columns: {', '.join(header) or 'none'})"
                )
        rows: list[tuple[int, dict[str, str]]] = []
        for row in reader:
            for column in needed:
                value = row.get(column)
                if value is None or not value.strip():
                    raise AllocationError(
                        f"{path} line {reader.line_num}: column {column!r}: expected a value "
                        f"(got {value!r})"
                    )
            rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}))
    if not rows:
        raise AllocationError(f"{path}: expected one row per cluster after the header (got none)")
    return rows


def _number(path: str, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise AllocationError(
            f"{path} line {line}: column {column!r}: expected a finite number (got {text!r})"
        )
    return value


def _summary(drawn: Drawn, variants: list[str]) -> None:
    """Clusters per variant (and per stratum, left out) on stderr, apart from the JSON."""
    counts = Counter(drawn.table.values())
    arms = ", ".join(f"{v}: {counts[v]}" for v in variants)
    groups = len(set(drawn.strata.values())) if drawn.strata is not None else 1
    if drawn.method == "pair_matched":
        noun = "matched set" if groups == 1 else "matched sets"
    else:
        noun = "stratum" if groups == 1 else "strata"
    click.echo(
        f"{drawn.method} allocation, seed {drawn.seed}: {len(drawn.table)} clusters in "
        f"{groups} {noun} ({arms})",
        err=True,
    )
    if drawn.method == "stratified" and drawn.strata is not None:
        per = Counter((drawn.strata[c], v) for c, v in drawn.table.items())
        thin = sorted({k for k in drawn.strata.values() if any(per[(k, v)] < 2 for v in variants)})
        if thin:
            click.echo(
                f"strata with fewer than 2 clusters in some variant (the stratified analysis "
                f"cannot estimate their variance and leaves them out): {', '.join(thin)}",
                err=True,
            )
    if drawn.left_out:
        click.echo(
            f"left out (not a multiple of {len(variants)} clusters; unlisted clusters get "
            f"no variant): {', '.join(drawn.left_out)}",
            err=True,
        )
    sys.stderr.flush()
