"""The public Python surface: every exported name resolves, and the documented names are exported."""

from __future__ import annotations

import subprocess
import sys

import pytest

import splitlab

#: The names docs/architecture.md ("Layers") and README.md promise as the package's surface.
DOCUMENTED_NAMES = {
    "load_experiment",
    "ExperimentAssignmentService",
    "evaluate_condition",
    "analyze",
    "ExperimentEvaluator",
    "EventTrackingMiddleware",
    "WSGITrackingMiddleware",
    "DjangoTrackingMiddleware",
    "TrackingClient",
}


@pytest.mark.parametrize("name", splitlab.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    """Each name in splitlab.__all__ can be imported from the package."""
    assert getattr(splitlab, name) is not None


def test_design_names_are_exported() -> None:
    """The names the docs list as the public surface are all in __all__."""
    assert set(splitlab.__all__) >= DOCUMENTED_NAMES


def test_all_matches_the_lazy_export_table() -> None:
    """__all__ lists exactly the lazily exported names (plus __version__)."""
    assert set(splitlab.__all__) == {*splitlab._EXPORTS, "__version__"}


def test_unknown_name_is_an_attribute_error() -> None:
    """A name splitlab does not export raises AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = splitlab.no_such_thing  # type: ignore[attr-defined]


def test_import_and_assignment_stay_light() -> None:
    """Importing splitlab and assigning a unit loads neither numpy, scipy nor a web framework."""
    code = (
        "import sys, splitlab\n"
        "exp = splitlab.load_experiment('examples/exp-checkout-flow-v3.json')\n"
        "svc = splitlab.ExperimentAssignmentService([exp])\n"
        "svc.assign('u1', exp.id, {'region': 'US', 'accountType': 'free'})\n"
        "heavy = [m for m in ('numpy', 'scipy', 'fastapi', 'starlette', 'duckdb') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
