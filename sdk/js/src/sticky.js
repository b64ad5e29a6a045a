// Sticky stores: where a sticky experiment (assignment.sticky, or a bandit) keeps each unit's
// first variant, so that a weight, traffic or targeting change later does not move it.
//
// A store is any object with two synchronous methods:
//   get(experimentId, unitId) -> the kept variant, or null
//   put(experimentId, unitId, variant) -> the unit's variant after the call: `variant` when
//     none was kept, else the one already kept (insert-if-absent)
// Either may throw: the service then answers no variant with reason "sticky_unavailable"
// rather than risk a second arm for a unit that was already exposed.

import { StickyStoreError } from "./errors.js";

/** A sticky store in this page's (or process's) memory: lost with it. */
export class MemoryStickyStore {
  #variants = new Map();

  get(experimentId, unitId) {
    return this.#variants.get(experimentId)?.get(unitId) ?? null;
  }

  put(experimentId, unitId, variant) {
    let units = this.#variants.get(experimentId);
    if (units === undefined) this.#variants.set(experimentId, (units = new Map()));
    const kept = units.get(unitId);
    if (kept !== undefined) return kept;
    units.set(unitId, variant);
    return variant;
  }

  /** How many (experiment, unit) variants are kept. */
  get size() {
    let n = 0;
    for (const units of this.#variants.values()) n += units.size;
    return n;
  }
}

/**
 * A sticky store in Web Storage (localStorage by default): one key per experiment and unit,
 * `<prefix><experimentId>|<unitId>` (an experiment id never holds "|"), whose value is the
 * variant. It survives reloads and is shared by the origin's tabs. A storage that cannot be
 * reached (blocked, sandboxed) or is full throws, which the service answers as
 * sticky_unavailable.
 */
export class LocalStorageStickyStore {
  #storage;
  #prefix;

  /** `storage`: a Storage (getItem/setItem), or a function returning one; `prefix` of keys. */
  constructor({ storage = () => globalThis.localStorage, prefix = "splitlab:sticky:" } = {}) {
    this.#storage = storage;
    this.#prefix = prefix;
  }

  // Reading window.localStorage itself throws a SecurityError where storage is blocked.
  #area() {
    const area = typeof this.#storage === "function" ? this.#storage() : this.#storage;
    if (area === null || area === undefined) throw new StickyStoreError("no Web Storage here");
    return area;
  }

  /** The key of one experiment and unit. */
  key(experimentId, unitId) {
    return `${this.#prefix}${experimentId}|${unitId}`;
  }

  get(experimentId, unitId) {
    return this.#area().getItem(this.key(experimentId, unitId));
  }

  put(experimentId, unitId, variant) {
    const area = this.#area();
    const key = this.key(experimentId, unitId);
    const kept = area.getItem(key);
    if (kept !== null) return kept;
    area.setItem(key, variant); // QuotaExceededError when full: the caller's failure path
    return variant;
  }
}

const DAY_SECONDS = 86400;

function parseCookies(text) {
  const out = new Map();
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

function decode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return null; // a value someone else wrote: not ours to read
  }
}

/** A cookie value `unit=variant&unit=variant` (each part URI-encoded) as a Map. */
function parseEntries(value) {
  const out = new Map();
  if (!value) return out;
  for (const pair of value.split("&")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    const unit = decode(pair.slice(0, eq));
    const variant = decode(pair.slice(eq + 1));
    if (unit !== null && variant) out.set(unit, variant);
  }
  return out;
}

function formatEntries(entries) {
  return [...entries].map(([u, v]) => `${encodeURIComponent(u)}=${encodeURIComponent(v)}`).join("&");
}

/**
 * A sticky store in first-party cookies: one cookie per experiment, `<prefix><experimentId>`,
 * holding `unit=variant` pairs for the page's own units (normally one). Written with
 * max-age (180 days by default), path "/", SameSite=Lax, and Secure on https pages. A cookie
 * stays under `maxBytes` (4,000 by default; browsers keep about 4,096 per cookie): when a new
 * unit does not fit, the oldest units are dropped (they lose their stickiness, the new one
 * keeps it). A cookie the browser does not keep (cookies disabled) makes put throw.
 */
export class CookieStickyStore {
  #document;
  #prefix;
  #attributes;
  #maxBytes;

  constructor({
    document = () => globalThis.document,
    prefix = "splitlab_sticky_",
    maxAgeSeconds = 180 * DAY_SECONDS,
    path = "/",
    domain = null,
    secure = null,
    maxBytes = 4000,
  } = {}) {
    this.#document = document;
    this.#prefix = prefix;
    this.#maxBytes = maxBytes;
    const parts = [`Max-Age=${Math.floor(maxAgeSeconds)}`, `Path=${path}`, "SameSite=Lax"];
    if (domain) parts.push(`Domain=${domain}`);
    const https = globalThis.location?.protocol === "https:";
    if (secure ?? https) parts.push("Secure");
    this.#attributes = parts.join("; ");
  }

  #doc() {
    const doc = typeof this.#document === "function" ? this.#document() : this.#document;
    if (doc === null || doc === undefined) throw new StickyStoreError("no document cookies here");
    return doc;
  }

  /** The cookie name of one experiment (an experiment id's ':' is percent-encoded). */
  name(experimentId) {
    return this.#prefix + encodeURIComponent(experimentId);
  }

  #entries(doc, experimentId) {
    return parseEntries(parseCookies(doc.cookie).get(this.name(experimentId)) ?? "");
  }

  get(experimentId, unitId) {
    return this.#entries(this.#doc(), experimentId).get(unitId) ?? null;
  }

  put(experimentId, unitId, variant) {
    const doc = this.#doc();
    const entries = this.#entries(doc, experimentId);
    const kept = entries.get(unitId);
    if (kept !== undefined) return kept;
    entries.set(unitId, variant);
    const name = this.name(experimentId);
    let value = formatEntries(entries);
    while (name.length + 1 + value.length > this.#maxBytes && entries.size > 1) {
      entries.delete(entries.keys().next().value); // the oldest unit first
      value = formatEntries(entries);
    }
    if (name.length + 1 + value.length > this.#maxBytes) {
      throw new StickyStoreError(`the cookie ${name} would pass ${this.#maxBytes} bytes`);
    }
    doc.cookie = `${name}=${value}; ${this.#attributes}`;
    if (this.#entries(doc, experimentId).get(unitId) !== variant) {
      throw new StickyStoreError(`the browser did not keep the cookie ${name}`);
    }
    return variant;
  }
}
