// Types of @splitlab/sdk: the client (client.d.ts) and the assignment SDK it is built on.
// The assignment side is declared here minimally (what the client and most pages use); the
// full declarations belong beside the assignment modules.

export * from "./client.js";

export type AttributeValue = string | number | boolean | null | AttributeValue[];
export type Attributes = Record<string, AttributeValue>;

export interface Assignment {
  experimentId: string;
  variant: string | null;
  reason: string;
  inExperiment: boolean;
  holdoutId?: string;
  holdoutVariant?: string;
  period?: number;
  periodStart?: number;
  switchbackUnit?: string;
}

export const Reason: Readonly<Record<string, string>>;

export class ExperimentAssignmentService {
  constructor(experiments?: object[], savedGroups?: Record<string, unknown[]>, options?: { clock?: () => number });
  update(experiments: object[], savedGroups?: Record<string, unknown[]>): void;
  assign(unitId: string | number | null, experimentId: string, attributes?: Attributes | null, options?: { at?: number | Date }): Assignment;
  assignAll(unitId: string | number | null, attributes?: Attributes | null, options?: { at?: number | Date }): Record<string, Assignment>;
  assignMany(experimentId: string, unitIds: Iterable<string | number>, attributes?: Attributes[] | null, options?: { at?: number | Date }): Assignment[];
  nowMs(): number;
}

export function evaluateCondition(condition: object, attributes: Attributes, savedGroups?: Record<string, unknown[]>): boolean;
export class ConditionError extends Error {}
export class DefinitionError extends Error {}
export class TimeError extends Error {}
