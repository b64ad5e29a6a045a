// Types of the splitlab client (src/client.js, cache.js, tracker.js, http.js, config-source.js).

import type { Attributes, ReasonValue, StickyStore } from "./index.js";

/** Where an answer came from. */
export type Source = "config" | "cache" | "server" | "fallback";

/** Synchronous key-value storage for the config and the unsent events. */
export interface Cache {
  readonly kind?: string;
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
  /** Every key (lets a page adopt the event queues earlier pages left). */
  keys?(): string[];
}

export interface ClientOptions {
  /** The splitlab server, e.g. "https://splitlab.example.com" (no trailing /v1). */
  url: string;
  /** An SDK key (kind "sdk"); public in a page: it may read the config and send events. */
  sdkKey: string;
  /** Attributes of every call (a call's own attributes override them). */
  attributes?: Attributes;
  /** The unit of every call that does not name one. */
  unitId?: string | number | null;
  /** Default: localStorage in a browser, memory in Node; null: memory. */
  cache?: Cache | null;
  /** Poll GET /v1/config this often (ms, default 30000; 0 disables polling). */
  refreshIntervalMs?: number;
  /** Follow GET /v1/config/stream (default: true when an EventSource class is given or global, as in browsers). */
  stream?: boolean;
  /** The EventSource class to use (Node: a polyfill); default globalThis.EventSource. */
  EventSource?: new (url: string) => EventSourceLike;
  /** The longest wait between two reconnections of the stream (ms, default 30000). */
  streamBackoffCapMs?: number;
  /** ready() resolves by then at the latest; also each config or assign request's timeout (ms, default 1000). */
  timeoutMs?: number;
  /** A timeout for each POST /v1/events (ms, default 10000). */
  eventTimeoutMs?: number;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Record exposures when getVariant serves an in-experiment answer (default true). */
  trackExposures?: boolean;
  /** Send queued events this often (ms, default 1000). */
  flushIntervalMs?: number;
  /** Most events per POST /v1/events (default 100); a full batch is sent at once. */
  maxBatch?: number;
  /** Most events kept while the collector is unreachable; the oldest are dropped (default 10000). */
  maxQueue?: number;
  /** Hand the queue to navigator.sendBeacon when the page is hidden or left (default true). */
  beacon?: boolean;
  /** The sendBeacon to use (default navigator.sendBeacon). */
  sendBeacon?: (url: string, body: string) => boolean;
  /**
   * Where sticky experiments keep each unit's first variant (one of the assignment SDK's
   * sticky stores, or any object with get/put); default: one in memory for the client's life.
   */
  sticky?: StickyStore | null;
  /** The variant served when nothing else is known, by experiment id (usually its control). */
  defaults?: Record<string, string>;
  /** Every failure, with where it happened ("config", "stream", "assign", "events", "cache", ...). */
  onError?: (error: Error, where: string) => void;
}

/** What the client uses of an EventSource: the browser's class and Node polyfills fit it. */
export interface EventSourceLike {
  // `any`: the client sets these to handlers that read nothing of the event, and a
  // parameter typed narrower (the DOM's Event) must still be accepted.
  onopen: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  addEventListener(type: string, listener: (event: { data: string }) => void): void;
  close(): void;
}

export interface ClientAnswer {
  experimentId: string;
  variant: string | null;
  /** The assignment reason, or "fallback" when nothing was known. */
  reason: ReasonValue | "fallback";
  /** True only for reason "assigned" (what counts as an exposure). */
  inExperiment: boolean;
  source: Source;
  holdoutId?: string;
  holdoutVariant?: string;
  period?: number;
  periodStart?: number;
  switchbackUnit?: string;
}

export interface VariantOptions {
  unitId?: string | number | null;
  attributes?: Attributes;
  /** Switchback experiments: the time to assign at (epoch ms or a Date). */
  at?: number | Date;
  /** Served instead of defaults[experimentId] when nothing else is known. */
  fallback?: string | null;
  /** false: do not record an exposure for this call. */
  track?: boolean;
}

export interface TrackOptions {
  unitId?: string | number | null;
  /** Only this experiment (assigned first); default: every experiment the unit was exposed to on this page. */
  experimentId?: string;
  attributes?: Attributes;
}

export interface ClientStatus {
  source: Source;
  etag: string | null;
  streamOpen: boolean;
  pendingEvents: number;
  handedToBeacon: number;
  experiments: string[];
}

export interface Client {
  /** Resolves (never rejects) when the client can serve, or after timeoutMs. */
  ready(): Promise<ClientStatus>;
  getVariant(experimentId: string, options?: VariantOptions): ClientAnswer;
  /** Queues metric events; returns how many. */
  track(metric: string, value?: number, options?: TrackOptions): number;
  /** Sends what is queued; resolves (never rejects). */
  flush(): Promise<void>;
  close(): Promise<void>;
  status(): ClientStatus;
}

export function createClient(options: ClientOptions): Client;

export function memoryCache(): Cache;
/** null when the page has no usable localStorage. */
export function localStorageCache(storage?: Storage): Cache | null;
/** Node: one JSON file, replaced atomically on each change. */
export function fileCache(path: string): Cache;
export function defaultCache(): Cache;

export class ConfigError extends Error {}
export function readConfig(document: unknown): { experiments: object[]; savedGroups: Record<string, unknown[]> };

export class HttpError extends Error {
  status: number;
  retryable: boolean;
  retryAfterMs: number | null;
  body: string | null;
}
export function retryAfterMs(header: string | null, now?: number): number | null;
export function backoffMs(
  attempt: number,
  options?: { baseMs?: number; capMs?: number; retryAfter?: number | null; maxRetryAfterMs?: number; random?: () => number },
): number;

/** Beacon bodies stay under this many bytes. */
export const BEACON_LIMIT: number;
export function beaconBodies(sdkKey: string, events: object[], limit?: number): { body: string; events: object[] }[];
export function newEventId(): string;
