// splitlab's browser / Node SDK: the assignments of docs/assignment.md and the targeting of
// docs/targeting.md, computed locally, synchronously and without dependencies.

export { ExperimentAssignmentService, Reason, resolveUnit, unitText } from "./service.js";
export { compileCondition, evaluateCondition, validateCondition } from "./conditions.js";
export { compileRules, renderValue, validateRules } from "./rules.js";
export { ConditionError, DefinitionError, StickyStoreError, TimeError } from "./errors.js";
export { CookieStickyStore, LocalStorageStickyStore, MemoryStickyStore } from "./sticky.js";
export { MAX_HOLDOUT_PERCENT, holdoutCovers, holdoutWeights, isHoldout } from "./holdouts.js";
export {
  SWITCHBACK_PREFIX,
  epochMs,
  parseOrigin,
  periodIndex,
  periodStartMs,
  switchbackInput,
  switchbackSplit,
  switchbackVariant,
} from "./switchback.js";
export {
  BUCKETS,
  LAYER_BUCKETS,
  LAYER_PREFIX,
  PREFIX,
  allocationThreshold,
  bucketOf,
  experimentPrefix,
  hashInput,
  hashIntegers,
  layerEdge,
  layerInput,
  layerInteger,
  variantEdges,
  variantIndex,
} from "./hashing.js";
export { nativeHash, sha256, sha256Portable, sha256PortableText, sha256Text } from "./sha256.js";
export { compareVersions, parseVersion } from "./versions.js";
