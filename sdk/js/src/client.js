// createClient: the splitlab client for pages and Node. It serves variants from the
// server's config (GET /v1/config, cached with its ETag, refreshed by polling and by the
// server-sent change stream), records exposures and metric events and sends them in batches.
// Fallback order when the config cannot be had: the cached config, then the server's own
// answer (POST /v1/assign, remembered per unit), then the control the page names in
// `defaults` (reason "fallback"). No public method throws or rejects: failures go to onError.

import { ExperimentAssignmentService } from "./service.js";
import { isHoldout } from "./holdouts.js";
import { memoryCache, defaultCache } from "./cache.js";
import { ConfigSource, readConfig } from "./config-source.js";
import { answerError, fetchWithTimeout } from "./http.js";
import { Tracker, newEventId } from "./tracker.js";
import { scalarAttributes, trackedIds } from "./tracked.js";

const inBrowser = typeof window !== "undefined" && typeof document !== "undefined";

// Every option createClient reads (README "Options"); another name is reported, since an
// option under another SDK's name (apiHost, clientKey, timeout) would be ignored silently.
const OPTIONS = new Set([
  "url", "sdkKey", "attributes", "unitId", "cache", "refreshIntervalMs", "stream", "EventSource",
  "streamBackoffCapMs", "timeoutMs", "eventTimeoutMs", "fetch", "trackExposures", "flushIntervalMs",
  "maxBatch", "maxQueue", "beacon", "sendBeacon", "sticky", "defaults", "onError",
]);

function reportTo(onError) {
  return (error, where) => {
    try {
      onError?.(error, where);
    } catch {
      // the page's own handler failed: nothing more can be done without throwing into it
    }
  };
}

function answer(experimentId, variant, reason, source, extra = undefined) {
  return Object.freeze({ experimentId, variant, reason, inExperiment: reason === "assigned", source, ...extra });
}

class Client {
  #o;
  #report;
  #cache;
  #configKey;
  #service = null;
  #sticky = null;
  #definitions = new Map();
  #source = null; // "config" | "cache" once a config is served
  #config;
  #tracker;
  #ready;
  #server = new Map(); // unit -> Promise | Map(experimentId -> answer) | {retryAt} (POST /v1/assign)
  #exposed = new Map(); // unit id given -> Map(experimentId -> {variant, unit, cluster})
  #seen = new Set();
  #seenKey;
  #closed = false;
  #unhook = [];

  constructor(options) {
    const o = {
      refreshIntervalMs: 30000,
      timeoutMs: 1000,
      eventTimeoutMs: 10000,
      trackExposures: true,
      flushIntervalMs: 1000,
      maxBatch: 100,
      maxQueue: 10000,
      defaults: {},
      attributes: {},
      unitId: null,
      ...options,
    };
    o.url = String(o.url ?? "").replace(/\/+$/, "");
    o.fetch = o.fetch ?? globalThis.fetch?.bind(globalThis);
    o.EventSource = o.EventSource ?? globalThis.EventSource;
    // on wherever an EventSource class is at hand: a browser's, or the one a Node service passes
    o.stream = o.stream ?? typeof o.EventSource === "function";
    this.#o = o;
    this.#report = reportTo(o.onError);
    if (!o.url || typeof o.sdkKey !== "string" || !o.sdkKey) {
      // still a working client: it serves the fallback, and reports each failed request
      this.#report(new TypeError(`createClient: url and sdkKey are required (got url ${JSON.stringify(options?.url)}, sdkKey ${typeof options?.sdkKey})`), "options");
    }
    const unknown = Object.keys(options ?? {}).filter((name) => !OPTIONS.has(name));
    if (unknown.length > 0) {
      this.#report(new TypeError(`createClient: unknown option ${unknown.map((n) => JSON.stringify(n)).join(", ")}, ignored (expected one of: ${[...OPTIONS].join(", ")})`), "options");
    }
    this.#cache = o.cache === undefined ? defaultCache() : (o.cache ?? memoryCache());
    this.#configKey = `splitlab:config:${o.url}`;
    this.#config = new ConfigSource({
      ...o,
      onConfig: (document, etag) => this.#install(document, etag, "config"),
      onError: this.#report,
    });
    const beacon = inBrowser && typeof navigator?.sendBeacon === "function" ? navigator.sendBeacon.bind(navigator) : null;
    const storePrefix = `splitlab:events:${o.url}:`;
    this.#tracker = new Tracker({
      url: o.url,
      sdkKey: o.sdkKey,
      fetch: o.fetch,
      timeoutMs: o.eventTimeoutMs,
      flushIntervalMs: o.flushIntervalMs,
      maxBatch: o.maxBatch,
      maxQueue: o.maxQueue,
      store: this.#cache,
      storePrefix,
      storeKey: storePrefix + newEventId(),
      sendBeacon: o.beacon === false ? null : (o.sendBeacon ?? beacon),
      onError: this.#report,
    });
    this.#seenKey = `splitlab:exposed:${o.url}`;
    if (o.trackExposures) this.#loadSeen();
    this.#loadCache();
    this.#ready = this.#start();
    if (inBrowser && beacon !== null) this.#hookPageLifecycle();
  }

  #loadCache() {
    try {
      const text = this.#cache.get(this.#configKey);
      if (!text) return;
      const { etag, document } = JSON.parse(text);
      this.#install(document, etag ?? null, "cache", false);
      this.#config.etag = etag ?? null;
    } catch (error) {
      this.#report(error, "cache");
    }
  }

  // Compile the document into a new service first: a bad one leaves the old one serving.
  #install(document, etag, source, store = true) {
    const { experiments, savedGroups } = readConfig(document);
    // One sticky store for the client's life (the option's, else the first service's own),
    // so a refreshed config never forgets the units sticky experiments already placed.
    const service = new ExperimentAssignmentService(experiments, savedGroups, {
      sticky: this.#sticky ?? this.#o.sticky ?? null,
      onStickyFailure: (error) => this.#report(error, "sticky"),
    });
    this.#sticky = service.sticky ?? null;
    this.#service = service;
    this.#definitions = new Map(experiments.map((d) => [d.experimentId, d]));
    this.#source = source;
    if (!store) return;
    try {
      this.#cache.set(this.#configKey, JSON.stringify({ etag, document, savedAt: Date.now() }));
    } catch (error) {
      this.#report(error, "cache");
    }
  }

  async #start() {
    try {
      const outcome = await this.#config.refresh();
      if (outcome === "not_modified") this.#source = "config"; // the cached copy is current
    } catch (error) {
      this.#report(error, "config");
      if (this.#service === null && this.#o.unitId !== null) {
        await this.#askServer(this.#o.unitId, this.#o.attributes);
      }
    } finally {
      if (!this.#closed) this.#config.start();
    }
  }

  #hookPageLifecycle() {
    const hidden = () => {
      if (document.visibilityState === "hidden") this.#tracker.beacon();
    };
    const gone = () => this.#tracker.beacon();
    document.addEventListener("visibilitychange", hidden);
    window.addEventListener("pagehide", gone);
    this.#unhook.push(() => document.removeEventListener("visibilitychange", hidden));
    this.#unhook.push(() => window.removeEventListener("pagehide", gone));
  }

  /** Resolves (never rejects) once the client can serve, or after timeoutMs at the latest. */
  ready() {
    let timer;
    const deadline = new Promise((resolve) => {
      timer = setTimeout(resolve, this.#o.timeoutMs);
    });
    return Promise.race([this.#ready.catch(() => undefined), deadline]).then(() => {
      clearTimeout(timer);
      return this.status();
    });
  }

  /** What the client serves from now, and its connections: for pages and tests. */
  status() {
    return {
      source: this.#source ?? ([...this.#server.values()].some((v) => v instanceof Map) ? "server" : "fallback"),
      etag: this.#config.etag,
      streamOpen: this.#config.streamOpen,
      pendingEvents: this.#tracker.pending,
      handedToBeacon: this.#tracker.handedOver,
      experiments: [...this.#definitions.keys()],
    };
  }

  // POST /v1/assign for every experiment of one unit; remembered (a failure is forgotten
  // so that a later call may try again).
  #askServer(unitId, attributes) {
    const key = String(unitId);
    const known = this.#server.get(key);
    if (known instanceof Map) return Promise.resolve(known);
    if (known?.retryAt > Date.now()) return Promise.resolve(null);
    if (known instanceof Promise) return known;
    const { url, sdkKey, timeoutMs } = this.#o;
    const body = JSON.stringify({ unitId: key, attributes: scalarAttributes(attributes, 256) ?? undefined });
    const init = { method: "POST", headers: { Authorization: `Bearer ${sdkKey}`, "Content-Type": "application/json" }, body };
    const pending = (async () => {
      try {
        const response = await fetchWithTimeout(this.#o.fetch, `${url}/v1/assign`, init, timeoutMs);
        if (!response.ok) throw await answerError(response, `POST ${url}/v1/assign`);
        const data = await response.json();
        const answers = new Map();
        for (const a of Array.isArray(data?.assignments) ? data.assignments : []) {
          if (typeof a?.experimentId !== "string" || typeof a?.reason !== "string") continue;
          const { experimentId, variant = null, reason, ...extra } = a;
          answers.set(experimentId, answer(experimentId, variant, reason, "server", extra));
        }
        this.#server.set(key, answers);
        return answers;
      } catch (error) {
        // not asked again for this unit before the next poll would be due
        this.#server.set(key, { retryAt: Date.now() + Math.min(this.#o.refreshIntervalMs, 30000) });
        this.#report(error, "assign");
        return null;
      }
    })();
    this.#server.set(key, pending);
    return pending;
  }

  #assign(experimentId, unitId, attributes, at) {
    if (this.#service !== null) {
      const a = this.#service.assign(unitId, experimentId, attributes, at === undefined ? undefined : { at });
      const { experimentId: _id, variant, reason, inExperiment: _in, ...extra } = a;
      return answer(experimentId, variant, reason, this.#source, extra);
    }
    if (unitId !== null && unitId !== undefined) {
      const known = this.#server.get(String(unitId));
      if (known instanceof Map) {
        return known.get(experimentId) ?? answer(experimentId, null, "unknown_experiment", "server");
      }
      if (!(known instanceof Promise)) this.#askServer(unitId, attributes);
    }
    return this.#fallback(experimentId);
  }

  #fallback(experimentId, fallback = undefined) {
    const variant = fallback ?? this.#o.defaults?.[experimentId] ?? null;
    return answer(experimentId, variant, "fallback", "fallback");
  }

  /**
   * {experimentId, variant, reason, inExperiment, source} for the unit (options.unitId, else
   * the client's), with options.attributes over the client's; options.at: the time to assign
   * a switchback at (epoch ms or a Date; default now). An in-experiment answer is
   * recorded as an exposure once per unit, experiment and variant (and the covering
   * holdout's exposure when the answer names one).
   */
  getVariant(experimentId, options = {}) {
    try {
      const unitId = options.unitId ?? this.#o.unitId;
      const attributes = { ...this.#o.attributes, ...options.attributes };
      const result = this.#assign(experimentId, unitId, attributes, options.at);
      if (result.source === "fallback" && options.fallback !== undefined) return this.#fallback(experimentId, options.fallback);
      if (this.#o.trackExposures && options.track !== false) this.#expose(result, unitId, attributes);
      return result;
    } catch (error) {
      this.#report(error, "getVariant");
      return this.#fallback(experimentId, options?.fallback);
    }
  }

  #ids(experimentId, unitId, attributes) {
    const definition = this.#definitions.get(experimentId);
    if (definition === undefined) return { unit: unitId === null || unitId === undefined ? null : String(unitId), cluster: null };
    return trackedIds(definition, unitId, attributes);
  }

  #expose(result, unitId, attributes) {
    if (result.source === "fallback" || result.variant === null) return;
    const events = [];
    // a holdout's own answer is no exposure: its units are exposed through the experiments it
    // covers (holdoutId below), as the Python middleware does (docs/holdouts.md)
    if (result.inExperiment && !isHoldout(this.#definitions.get(result.experimentId))) {
      events.push([result.experimentId, result.variant]);
    }
    if (typeof result.holdoutId === "string" && typeof result.holdoutVariant === "string") {
      events.push([result.holdoutId, result.holdoutVariant]);
    }
    for (const [experimentId, variant] of events) {
      const { unit, cluster } = this.#ids(experimentId, unitId, attributes);
      if (unit === null) continue;
      const byUnit = this.#exposed.get(String(unitId)) ?? new Map();
      byUnit.set(experimentId, { variant, unit, cluster });
      this.#exposed.set(String(unitId), byUnit);
      const seen = `${unit}\u0000${experimentId}\u0000${variant}`;
      if (this.#seen.has(seen)) continue;
      this.#remember(seen);
      this.#push({ type: "exposure", experimentId, variant, unitId: unit, clusterId: cluster, attributes: scalarAttributes(attributes) });
    }
  }

  // The exposures recorded in this browser tab (sessionStorage): a reload does not record
  // them again. Bounded; without sessionStorage, per page.
  #loadSeen() {
    try {
      const stored = JSON.parse(globalThis.sessionStorage?.getItem(this.#seenKey) ?? "[]");
      if (Array.isArray(stored)) for (const key of stored) if (typeof key === "string") this.#seen.add(key);
    } catch {
      // no sessionStorage (Node, blocked storage): exposures are deduplicated per page
    }
  }

  #remember(seen) {
    this.#seen.add(seen);
    if (this.#seen.size > 1000) this.#seen.delete(this.#seen.values().next().value);
    try {
      globalThis.sessionStorage?.setItem(this.#seenKey, JSON.stringify([...this.#seen]));
    } catch {
      // full or blocked: the in-memory set still deduplicates on this page
    }
  }

  #push(fields) {
    const event = { eventId: newEventId(), timestamp: Date.now() };
    for (const [name, value] of Object.entries(fields)) if (value !== null && value !== undefined) event[name] = value;
    this.#tracker.push(event);
    return event;
  }

  /**
   * A metric event for each experiment the unit was exposed to on this page (or only
   * options.experimentId, assigning it first), with the variant it was served. Returns the
   * number of events queued.
   */
  track(metric, value = 1, options = {}) {
    try {
      if (typeof metric !== "string" || metric === "") throw new TypeError(`track: metric must be a non-empty string (got ${JSON.stringify(metric)})`);
      const number = Number(value);
      if (!Number.isFinite(number)) throw new TypeError(`track(${JSON.stringify(metric)}): value must be a finite number (got ${String(value)})`);
      const unitId = options.unitId ?? this.#o.unitId;
      if (options.experimentId !== undefined) this.getVariant(options.experimentId, { unitId, attributes: options.attributes });
      let count = 0;
      for (const [experimentId, seen] of this.#exposed.get(String(unitId)) ?? []) {
        if (options.experimentId !== undefined && experimentId !== options.experimentId) continue;
        this.#push({ type: "metric", experimentId, variant: seen.variant, unitId: seen.unit, clusterId: seen.cluster, metric, value: number });
        count += 1;
      }
      return count;
    } catch (error) {
      this.#report(error, "track");
      return 0;
    }
  }

  /** Send what is queued now; resolves (never rejects) when sent or a retry is scheduled. */
  flush() {
    try {
      return this.#tracker.flush().catch((error) => this.#report(error, "flush"));
    } catch (error) {
      this.#report(error, "flush");
      return Promise.resolve();
    }
  }

  /** Stop refreshing, flush what is queued and release the page's listeners. */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#config.close();
      for (const unhook of this.#unhook) unhook();
      await this.#tracker.close();
    } catch (error) {
      this.#report(error, "close");
    }
  }
}

/** A splitlab client; see the README for the options. Never throws. */
export function createClient(options = {}) {
  return new Client(options);
}
