// Compiled by test/types.test.js with `tsc --noEmit --strict`: the declarations in
// types/assignment.d.ts accept the documented uses and refuse the wrong ones (each line
// marked as an expected error must be one, or tsc reports the directive as unused).

import {
  type Assignment,
  type ExperimentDefinition,
  type ReasonValue,
  type StickyStore,
  CookieStickyStore,
  ExperimentAssignmentService,
  LocalStorageStickyStore,
  MemoryStickyStore,
  Reason,
  StickyStoreError,
  hashIntegers,
  holdoutCovers,
  layerEdge,
  layerInteger,
  sha256PortableText,
} from "../../types/index.js";

const definition: ExperimentDefinition = {
  experimentId: "exp-checkout",
  status: "running",
  variants: ["control", { name: "treatment", weight: 2 }],
  assignment: { salt: "s", hashKey: "userId", sticky: true },
  tags: ["checkout"],
  layer: { id: "checkout", start: 0, end: 5000 },
};
const holdout: ExperimentDefinition = {
  experimentId: "holdout-all",
  status: "running",
  variants: ["held_out", "exposed"],
  assignment: { salt: "h" },
  design: { type: "holdout", percent: 5, scope: null },
};

class MapStore implements StickyStore {
  #m = new Map<string, string>();
  get(experimentId: string, unitId: string): string | null {
    return this.#m.get(`${experimentId}|${unitId}`) ?? null;
  }
  put(experimentId: string, unitId: string, variant: string): string {
    const key = `${experimentId}|${unitId}`;
    const kept = this.#m.get(key);
    if (kept !== undefined) return kept;
    this.#m.set(key, variant);
    return variant;
  }
}

const stores: StickyStore[] = [
  new MemoryStickyStore(),
  new LocalStorageStickyStore({ prefix: "app:" }),
  new CookieStickyStore({ maxAgeSeconds: 3600, secure: true }),
  new MapStore(),
];
const service = new ExperimentAssignmentService([definition, holdout], {}, {
  sticky: stores[0],
  clock: () => Date.now(),
  onStickyFailure: (error, experimentId, unit) => {
    if (error instanceof StickyStoreError) console.log(experimentId, unit, error.code);
  },
});
const a: Assignment = service.assign("user-1", "exp-checkout", { country: "US" });
const variant: string | null = a.variant;
const reason: ReasonValue = a.reason;
const held: boolean = a.reason === Reason.HOLDOUT && a.holdoutId === "holdout-all";
const holdoutVariant: string | undefined = a.holdoutVariant;
const failures: number = service.stickyFailures;
const all: Record<string, Assignment> = service.assignAll(42, null, { at: new Date() });
const many: Assignment[] = service.assignMany("exp-checkout", ["a", "b"], [{ x: 1 }, null]);
const covered: boolean = holdoutCovers(holdout, definition);
const edge: number = layerEdge(5000) + layerInteger("checkout", "user-1");
const { split, gate } = hashIntegers("splitlab/v1|e|s|u");
const digest: Uint8Array = sha256PortableText("abc");
service.update([definition]);
console.log(variant, reason, held, holdoutVariant, failures, all, many, covered, edge, split, gate, digest);

// @ts-expect-error a reason outside the list
const wrong: ReasonValue = "maybe";
// @ts-expect-error an assignment's variant is not writable
a.variant = "other";
// @ts-expect-error stickyFailures is read-only
service.stickyFailures = 0;
// @ts-expect-error a store's put returns the kept variant, a string
const bad: StickyStore = { get: () => null, put: () => undefined };
// @ts-expect-error assign needs the experiment id
service.assign("user-1");
// @ts-expect-error a definition needs its assignment salt
const noSalt: ExperimentDefinition = { experimentId: "x", variants: ["a", "b"], assignment: {} };
console.log(wrong, bad, noSalt);
