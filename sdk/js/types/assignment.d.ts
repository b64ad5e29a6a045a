// Types of splitlab's assignment SDK (src/index.js): the service, its answers and reasons,
// sticky stores, layers and holdouts, targeting and the hashing steps. docs/assignment.md is
// the contract; these declarations describe the JavaScript API only.

/** Why a unit got its variant (or none), in precedence order. */
export type ReasonValue =
  | "unknown_experiment"
  | "rolled_back"
  | "shipped"
  | "toggled"
  | "not_running"
  | "missing_unit_id"
  | "forced"
  | "outside_layer"
  | "sticky_unavailable"
  | "not_targeted"
  | "outside_traffic"
  | "not_allocated"
  | "holdout"
  | "assigned";

export declare const Reason: Readonly<{
  UNKNOWN_EXPERIMENT: "unknown_experiment";
  ROLLED_BACK: "rolled_back";
  SHIPPED: "shipped";
  TOGGLED: "toggled";
  NOT_RUNNING: "not_running";
  MISSING_UNIT_ID: "missing_unit_id";
  FORCED: "forced";
  OUTSIDE_LAYER: "outside_layer";
  STICKY_UNAVAILABLE: "sticky_unavailable";
  NOT_TARGETED: "not_targeted";
  OUTSIDE_TRAFFIC: "outside_traffic";
  NOT_ALLOCATED: "not_allocated";
  HOLDOUT: "holdout";
  ASSIGNED: "assigned";
}>;

/** One assignment (frozen; answers are shared between calls, compare them by value). */
export interface Assignment {
  readonly experimentId: string;
  /** null exactly when no variant is served. */
  readonly variant: string | null;
  readonly reason: ReasonValue;
  /** true only for reason "assigned": the units to track as exposures. */
  readonly inExperiment: boolean;
  /** A running switchback: the period index of the time used, */
  readonly period?: number;
  /** its first epoch millisecond, */
  readonly periodStart?: number;
  /** and the switchback unit's value (null for the global unit or when it is missing). */
  readonly switchbackUnit?: string | null;
  /** The running holdout covering the experiment, once the unit reached the holdout step (or was served a sticky experiment's kept variant). */
  readonly holdoutId?: string;
  /** The unit's variant of that holdout (its first: held out; its second: everyone else). */
  readonly holdoutVariant?: string;
}

/** A unit id: a non-empty string, or an integer (hashed in decimal). Anything else is missing. */
export type UnitId = string | number | bigint | null | undefined;

/** Attributes of a request: targeting reads them, attributes[hashKey] is the unit when set. */
export type Attributes = Readonly<Record<string, unknown>>;

/** Saved groups for the $inGroup / $notInGroup operators: group name -> values. */
export type SavedGroups = Readonly<Record<string, readonly unknown[]>>;

export type Status = "draft" | "running" | "paused" | "stopped" | "rolled_back" | "shipped";

export interface VariantDefinition {
  name: string;
  weight?: number | null;
  [key: string]: unknown;
}

export interface LayerRange {
  /** The layer's id (the experiment id rule); experiments of one layer hold disjoint ranges. */
  id: string;
  /** First bucket taken, 0 to 9,999. */
  start: number;
  /** One past the last bucket taken, start + 1 to 10,000. */
  end: number;
}

export interface HoldoutDesign {
  type: "holdout";
  /** Share of the units held out, in percent: more than 0, at most 50. */
  percent: number;
  /** The experiments covered: those carrying one of the tags (null: every experiment). */
  scope?: { tags: string[] } | null;
}

export interface Design {
  type: "cluster" | "switchback" | "canary" | "bandit" | "holdout" | (string & {});
  [key: string]: unknown;
}

/** An experiment definition as splitlab serves it (camelCase JSON); other fields are kept. */
export interface ExperimentDefinition {
  experimentId: string;
  status?: Status;
  trafficAllocation?: number;
  variants: ReadonlyArray<string | VariantDefinition>;
  control?: string;
  assignment: {
    salt: string;
    hashKey?: string;
    strategy?: "consistent_hash";
    forced?: Readonly<Record<string, readonly string[]>>;
    /** Keep each unit's first variant when weights, traffic or targeting change. */
    sticky?: boolean;
    [key: string]: unknown;
  };
  targeting?: {
    include?: readonly string[];
    exclude?: readonly string[];
    condition?: Condition | null;
  };
  shippedVariant?: string | null;
  forcedVariant?: string | null;
  design?: Design | HoldoutDesign | null;
  tags?: readonly string[];
  layer?: LayerRange | null;
  [key: string]: unknown;
}

/**
 * Where sticky experiments keep each unit's first variant. Both methods are synchronous and
 * may throw: the assignment is then no variant with reason "sticky_unavailable".
 */
export interface StickyStore {
  /** The variant kept for this unit, or null. */
  get(experimentId: string, unitId: string): string | null;
  /** Keep `variant` unless the unit has one (insert-if-absent); return the unit's variant. */
  put(experimentId: string, unitId: string, variant: string): string;
}

/** A store in memory: lost with the page (or process). */
export declare class MemoryStickyStore implements StickyStore {
  constructor();
  get(experimentId: string, unitId: string): string | null;
  put(experimentId: string, unitId: string, variant: string): string;
  /** How many (experiment, unit) variants are kept. */
  readonly size: number;
}

/** The part of the Web Storage API the store uses. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface LocalStorageStickyStoreOptions {
  /** A Storage, or a function returning one (default: globalThis.localStorage, read per call). */
  storage?: StorageLike | (() => StorageLike | null | undefined);
  /** Key prefix (default "splitlab:sticky:"); a key is prefix + experimentId + "|" + unitId. */
  prefix?: string;
}

/** A store in localStorage: one key per experiment and unit, kept across reloads. */
export declare class LocalStorageStickyStore implements StickyStore {
  constructor(options?: LocalStorageStickyStoreOptions);
  key(experimentId: string, unitId: string): string;
  get(experimentId: string, unitId: string): string | null;
  put(experimentId: string, unitId: string, variant: string): string;
}

/** The part of a Document the cookie store uses. */
export interface CookieJar {
  cookie: string;
}

export interface CookieStickyStoreOptions {
  /** A document, or a function returning one (default: globalThis.document, read per call). */
  document?: CookieJar | (() => CookieJar | null | undefined);
  /** Cookie name prefix (default "splitlab_sticky_"), followed by the experiment id. */
  prefix?: string;
  /** Cookie lifetime in seconds (default 180 days). */
  maxAgeSeconds?: number;
  path?: string;
  domain?: string | null;
  /** Secure attribute; default: when the page is served over https. */
  secure?: boolean | null;
  /** Largest cookie (name=value) in bytes, default 4,000; the oldest units are dropped. */
  maxBytes?: number;
}

/** A store in first-party cookies: one cookie per experiment holding unit=variant pairs. */
export declare class CookieStickyStore implements StickyStore {
  constructor(options?: CookieStickyStoreOptions);
  name(experimentId: string): string;
  get(experimentId: string, unitId: string): string | null;
  put(experimentId: string, unitId: string, variant: string): string;
}

export interface ServiceOptions {
  /** The current time in epoch ms (default Date.now); read for switchbacks without `at`. */
  clock?: () => number;
  /** Where sticky experiments keep variants (default: a new MemoryStickyStore). */
  sticky?: StickyStore | null;
  /** Hears of each sticky store failure; its own exceptions are swallowed. */
  onStickyFailure?: ((error: unknown, experimentId: string, unit: string) => void) | null;
}

export interface AssignOptions {
  /** The time to assign at (epoch ms or a Date); only switchbacks read it. */
  at?: number | Date | null;
}

/** Deterministic assignment from the definitions alone, the same as the Python service. */
export declare class ExperimentAssignmentService {
  constructor(
    experiments?: Iterable<ExperimentDefinition>,
    savedGroups?: SavedGroups,
    options?: ServiceOptions,
  );
  /** The sticky store in use. */
  readonly sticky: StickyStore;
  /** How many assignments answered sticky_unavailable. */
  readonly stickyFailures: number;
  nowMs(): number;
  /** Replace every experiment (and the saved groups, when given) at once. */
  update(experiments: Iterable<ExperimentDefinition>, savedGroups?: SavedGroups | null): void;
  assign(
    unitId: UnitId,
    experimentId: string,
    attributes?: Attributes | null,
    options?: AssignOptions,
  ): Assignment;
  /** Every experiment that can serve a variant, by id. */
  assignAll(unitId: UnitId, attributes?: Attributes | null, options?: AssignOptions): Record<string, Assignment>;
  assignMany(
    experimentId: string,
    unitIds: Iterable<UnitId>,
    attributes?: ReadonlyArray<Attributes | null> | null,
    options?: AssignOptions,
  ): Assignment[];
}

export declare function resolveUnit(hashKey: string, unitId: UnitId, attributes?: Attributes | null): string | null;
export declare function unitText(value: unknown): string | null;

// Targeting (docs/targeting.md).
export type Condition = Readonly<Record<string, unknown>>;
/** A problem in a condition or rule list: [JSON path, value, what was expected]. */
export type Problem = [path: string, value: unknown, expected: string];
export declare function evaluateCondition(condition: Condition, attributes: Attributes | null, savedGroups?: SavedGroups): boolean;
export declare function compileCondition(condition: Condition, savedGroups?: SavedGroups): (attributes: Attributes) => boolean;
export declare function validateCondition(condition: unknown, path?: string): Problem[];
export declare function compileRules(include: readonly string[], exclude: readonly string[]): (attributes: Attributes) => boolean;
export declare function validateRules(include: unknown, exclude: unknown, path?: string): Problem[];
export declare function renderValue(value: unknown): string | null;
export type VersionKey = [number, number, number, 0 | 1, Array<[0 | 1, number, string]>];
export declare function parseVersion(text: string): VersionKey | null;
export declare function compareVersions(a: VersionKey, b: VersionKey): -1 | 0 | 1;

// Errors.
export declare class ConditionError extends Error {
  readonly name: "ConditionError";
  readonly code: "invalid_condition";
  readonly problems: Problem[];
}
export declare class DefinitionError extends Error {
  readonly name: "DefinitionError";
  readonly code: "invalid_definition";
}
export declare class TimeError extends RangeError {
  readonly name: "TimeError";
  readonly code: "invalid_time";
}
export declare class StickyStoreError extends Error {
  readonly name: "StickyStoreError";
  readonly code: "sticky_unavailable";
}

// Holdouts and layers.
export declare const MAX_HOLDOUT_PERCENT: number;
export declare function isHoldout(definition: ExperimentDefinition): boolean;
/** [percent / 100, 1 - percent / 100]: the held-out group first. */
export declare function holdoutWeights(percent: number): [number, number];
export declare function holdoutCovers(holdout: ExperimentDefinition, experiment: ExperimentDefinition): boolean;

// Hashing steps (docs/assignment.md, "The algorithm, exactly"; "Layers").
export declare const BUCKETS: number;
export declare const PREFIX: "splitlab/v1";
export declare const LAYER_PREFIX: "splitlab/layer/v1";
export declare const LAYER_BUCKETS: number;
export declare function hashInput(experimentId: string, salt: string, unit: string): string;
export declare function experimentPrefix(experimentId: string, salt: string): string;
export declare function hashIntegers(text: string): { digest: Uint8Array; split: number; gate: number };
export declare function allocationThreshold(trafficAllocation: number): number;
export declare function variantEdges(weights: readonly number[]): number[];
export declare function variantIndex(edges: readonly number[], split: number): number;
export declare function bucketOf(value: number): number;
export declare function layerInput(layerId: string, unit: string): string;
export declare function layerEdge(bucket: number, buckets?: number): number;
export declare function layerInteger(layerId: string, unit: string): number;
export declare function sha256(bytes: Uint8Array): Uint8Array;
export declare function sha256Text(text: string): Uint8Array;
export declare function sha256Portable(bytes: Uint8Array): Uint8Array;
export declare function sha256PortableText(text: string): Uint8Array;
/** Whether sha256 / sha256Text use node:crypto (assignments always use the portable hash). */
export declare const nativeHash: boolean;

// Switchback experiments (docs/assignment.md, "Switchback experiments").
export interface SwitchbackDesignFields {
  periodSeconds?: number;
  origin?: string;
  [key: string]: unknown;
}
export declare const SWITCHBACK_PREFIX: string;
export declare function epochMs(at: number | Date, field?: string): number;
export declare function parseOrigin(text: string): number | null;
export declare function periodIndex(design: SwitchbackDesignFields, tMs: number): number;
export declare function periodStartMs(design: SwitchbackDesignFields, k: number): number;
export declare function switchbackInput(experimentId: string, salt: string, unitValue: string | null, period: number): string;
export declare function switchbackSplit(experimentId: string, salt: string, unitValue: string | null, period: number): number;
export declare function switchbackVariant(definition: ExperimentDefinition, unitValue: string | null, period: number): string;
