"""The ``curves`` block a look document carries matches its OpenAPI models exactly (every key
listed, none extra), for both metric kinds."""

from __future__ import annotations

from splitlab.evaluation.survival_view import curves_block
from splitlab.server.schemas_curves import LookDocument, RetentionCurves, TimeToEventCurves
from tests.evaluation.test_survival_view import RESULTS, experiment, sums


def test_curves_block_validates_against_the_response_models() -> None:
    block = curves_block(experiment(), sums()[0], RESULTS)
    doc = LookDocument.model_validate({"experimentId": "exp-lifetimes", "curves": block})
    assert doc.curves is not None
    assert isinstance(doc.curves["day7_return"], RetentionCurves)
    tte = doc.curves["time_to_order"]
    assert isinstance(tte, TimeToEventCurves)
    # Dumped by alias, the models give back the very block the engine wrote.
    assert {k: v.model_dump(by_alias=True) for k, v in doc.curves.items()} == block
