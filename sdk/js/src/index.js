// splitlab's browser / Node SDK: the assignments of docs/assignment.md and the targeting of
// docs/targeting.md, computed locally, synchronously and without dependencies.

export { ExperimentAssignmentService, Reason, resolveUnit, unitText } from "./service.js";
export { compileCondition, evaluateCondition, validateCondition } from "./conditions.js";
export { compileRules, renderValue, validateRules } from "./rules.js";
export { ConditionError, DefinitionError, TimeError } from "./errors.js";
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
  PREFIX,
  allocationThreshold,
  bucketOf,
  hashInput,
  hashIntegers,
  variantEdges,
  variantIndex,
} from "./hashing.js";
export { nativeHash, sha256, sha256Portable, sha256PortableText, sha256Text } from "./sha256.js";
export { compareVersions, parseVersion } from "./versions.js";
