// Layers (docs/assignment.md, "Layers"): an experiment with `layer: {id, start, end}` takes
// only the units whose layer bucket is in [start, end) of the layer's 10,000. The bucket comes
// from its own hash ("splitlab/layer/v1|<layer id>|<unit>"), independent of any experiment's
// split, so experiments holding disjoint ranges of one layer never share a unit.

import { DefinitionError } from "./errors.js";
import { LAYER_BUCKETS, LAYER_PREFIX, headHasher, layerEdge, splitWord } from "./hashing.js";
import { isObject } from "./values.js";

/** A layer id follows the experiment id rule. */
const LAYER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function refuse(experimentId, field, value, expected) {
  throw new DefinitionError(
    `experiment ${JSON.stringify(experimentId)}: ${field} must be ${expected} (got ${JSON.stringify(value)})`,
  );
}

/** The experiment's layer checked: {id, start, end}, or null when it is in no layer. */
export function layerOf(definition) {
  const layer = definition.layer;
  const id = definition.experimentId;
  if (layer === undefined || layer === null) return null;
  if (!isObject(layer)) refuse(id, "layer", layer, "an object {id, start, end}");
  if (typeof layer.id !== "string" || !LAYER_ID.test(layer.id)) {
    refuse(id, "layer.id", layer.id, "a layer id (letters, digits, '.', '_', ':', '-'; up to 128)");
  }
  const { start, end } = layer;
  if (!Number.isInteger(start) || start < 0 || start >= LAYER_BUCKETS) {
    refuse(id, "layer.start", start, `an integer in [0, ${LAYER_BUCKETS - 1}]`);
  }
  if (!Number.isInteger(end) || end <= start || end > LAYER_BUCKETS) {
    refuse(id, "layer.end", end, `an integer in [layer.start + 1, ${LAYER_BUCKETS}]`);
  }
  return { id: layer.id, start, end };
}

/**
 * A predicate (unit text) -> whether the unit's layer integer is in the experiment's range,
 * or null when the experiment is in no layer. One digest per call.
 */
export function compileLayer(definition) {
  const layer = layerOf(definition);
  if (layer === null) return null;
  const low = layerEdge(layer.start);
  const high = layerEdge(layer.end);
  const hash = headHasher(`${LAYER_PREFIX}|${layer.id}|`);
  return (unit) => {
    hash(unit);
    const s = splitWord();
    return s >= low && s < high;
  };
}
