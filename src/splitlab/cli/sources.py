"""The ``--sources FILE`` option of the commands that read SQL metrics (``serve``,
``evaluate``, ``scheduler``, ``check``, ``validate``): the source catalog, also given by the
``SPLITLAB_SOURCES`` environment variable (docs/sql-metrics.md)."""

from __future__ import annotations

import click

from splitlab.config.source_loading import SOURCES_ENV, load_sources
from splitlab.config.sources import SourceCatalog

#: The ``--sources`` option: the source catalog of SQL metrics (docs/sql-metrics.md).
sources_option = click.option(
    "--sources",
    "sources_path",
    envvar=SOURCES_ENV,
    type=click.Path(dir_okay=False),
    help="The source catalog (JSON) that SQL metrics read from; also SPLITLAB_SOURCES.",
)


def load_catalog(path: str | None) -> SourceCatalog | None:
    """The catalog at `path` (None without one); a bad file raises a clean SourcesError."""
    return None if not path else load_sources(path)
