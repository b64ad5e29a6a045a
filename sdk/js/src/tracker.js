// The page's event queue: exposures and metric events batched to POST /v1/events, each with
// an id fixed when the event is created, so a retry resends the same ids and the collector
// keeps each event once. Network errors, 5xx, 408 and 429 are retried with back-off (and
// Retry-After); other 4xx answers drop the batch and report it. When the page is hidden or
// unloaded, what is queued goes out by navigator.sendBeacon (text/plain, the key in the body)
// in chunks under 60 KB. The unsent queue is kept in the cache, so a reload resends it.

import { answerError, backoffMs, fetchWithTimeout, later } from "./http.js";

/** A random event id: crypto.randomUUID, else a v4 UUID from getRandomValues or Math.random. */
export function newEventId() {
  const cryptoApi = globalThis.crypto;
  if (typeof cryptoApi?.randomUUID === "function") return cryptoApi.randomUUID();
  const bytes = new Uint8Array(16);
  if (typeof cryptoApi?.getRandomValues === "function") cryptoApi.getRandomValues(bytes);
  else for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A beacon body must stay under this many bytes (browsers refuse ~64 KB in flight). */
export const BEACON_LIMIT = 60000;

const utf8Length = (text) => (typeof TextEncoder === "function" ? new TextEncoder().encode(text).length : text.length * 3);

/** `events` as text/plain beacon bodies {"key", "events"}, each under `limit` bytes. */
export function beaconBodies(sdkKey, events, limit = BEACON_LIMIT) {
  const head = `{"key":${JSON.stringify(sdkKey)},"events":[`;
  const bodies = [];
  let parts = [];
  let size = utf8Length(head) + 2;
  for (const event of events) {
    const text = JSON.stringify(event);
    const length = utf8Length(text) + 1;
    if (parts.length > 0 && size + length > limit) {
      bodies.push({ body: `${head}${parts.map((p) => p.text).join(",")}]}`, events: parts.map((p) => p.event) });
      parts = [];
      size = utf8Length(head) + 2;
    }
    parts.push({ text, event });
    size += length;
  }
  if (parts.length > 0) bodies.push({ body: `${head}${parts.map((p) => p.text).join(",")}]}`, events: parts.map((p) => p.event) });
  return bodies;
}

export class Tracker {
  #o;
  #queue = [];
  #busy = null;
  #timer = null;
  #retryTimer = null;
  #attempt = 0;
  #closed = false;

  /**
   * options: url, sdkKey, fetch, timeoutMs, flushIntervalMs, maxBatch, maxQueue, store (a
   * cache or null), storePrefix, storeKey (storePrefix + this page's id), sendBeacon (or null), onError(error, where).
   */
  constructor(options) {
    this.#o = options;
    this.#queue = this.#load();
    this.handedOver = 0;
    if (this.#queue.length > 0) this.#schedule();
  }

  /** Events queued and not yet acknowledged or handed to a beacon. */
  get pending() {
    return this.#queue.length;
  }

  // The queues left by earlier pages (each page stores its own under storePrefix + a page
  // id, so two tabs never overwrite each other): adopted and removed. A tab still open keeps
  // its events too; both may send them, and the collector keeps each eventId once.
  #load() {
    const store = this.#o.store;
    const found = new Map();
    if (!store) return [];
    try {
      const keys = typeof store.keys === "function" ? store.keys() : [this.#o.storeKey];
      for (const key of keys) {
        if (!key.startsWith(this.#o.storePrefix)) continue;
        let events = [];
        try {
          events = JSON.parse(store.get(key) ?? "[]");
        } catch (error) {
          this.#o.onError(error, "queue");
        }
        if (Array.isArray(events)) {
          for (const e of events) if (e && typeof e.eventId === "string") found.set(e.eventId, e);
        }
        store.remove(key);
      }
    } catch (error) {
      this.#o.onError(error, "queue");
    }
    const events = [...found.values()];
    this.#queue = events;
    this.#save();
    return events;
  }

  #save() {
    const store = this.#o.store;
    if (!store) return;
    try {
      if (this.#queue.length === 0) store.remove(this.#o.storeKey);
      else store.set(this.#o.storeKey, JSON.stringify(this.#queue));
    } catch (error) {
      this.#o.onError(error, "queue"); // a full storage: the events stay in memory
    }
  }

  #forget(ids) {
    const before = this.#queue.length;
    this.#queue = this.#queue.filter((e) => !ids.has(e.eventId));
    if (this.#queue.length !== before) this.#save();
  }

  /** Queue one event (already carrying its eventId). */
  push(event) {
    if (this.#closed) return;
    this.#queue.push(event);
    const overflow = this.#queue.length - this.#o.maxQueue;
    if (overflow > 0) {
      this.#queue.splice(0, overflow);
      this.#o.onError(new Error(`event queue full: the ${overflow} oldest events were dropped`), "events");
    }
    this.#save();
    if (this.#queue.length >= this.#o.maxBatch && this.#retryTimer === null) this.flush();
    else this.#schedule();
  }

  #schedule() {
    if (this.#timer !== null || this.#retryTimer !== null || this.#closed) return;
    this.#timer = later(() => {
      this.#timer = null;
      this.flush();
    }, this.#o.flushIntervalMs);
  }

  /** Send everything queued now; resolves when done or when a retry is scheduled. Never rejects. */
  flush() {
    if (this.#busy !== null) return this.#busy.then(() => (this.#queue.length && !this.#retryTimer ? this.flush() : undefined));
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#busy = this.#drain().finally(() => {
      this.#busy = null;
    });
    return this.#busy;
  }

  async #drain() {
    while (this.#queue.length > 0) {
      const batch = this.#queue.slice(0, this.#o.maxBatch);
      const ids = new Set(batch.map((e) => e.eventId));
      try {
        await this.#send(batch);
        this.#attempt = 0;
        this.#forget(ids);
      } catch (error) {
        this.#o.onError(error, "events");
        if (!error?.retryable) {
          this.#forget(ids); // refused as invalid: resending would be refused again
          continue;
        }
        if (this.#closed) return;
        this.#attempt += 1;
        const wait = backoffMs(this.#attempt, { retryAfter: error.retryAfterMs ?? null });
        this.#retryTimer = later(() => {
          this.#retryTimer = null;
          this.flush();
        }, wait);
        return;
      }
    }
  }

  async #send(batch) {
    const { url, sdkKey, timeoutMs } = this.#o;
    const body = JSON.stringify({ events: batch });
    const init = {
      method: "POST",
      headers: { Authorization: `Bearer ${sdkKey}`, "Content-Type": "application/json" },
      body,
      keepalive: utf8Length(body) < BEACON_LIMIT,
    };
    const response = await fetchWithTimeout(this.#o.fetch, `${url}/v1/events`, init, timeoutMs);
    if (!response.ok) throw await answerError(response, `POST ${url}/v1/events`);
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      answer = null;
    }
    if (answer && answer.rejected > 0) {
      const detail = JSON.stringify(answer.rejections ?? []).slice(0, 500);
      this.#o.onError(new Error(`POST ${url}/v1/events: ${answer.rejected} event(s) refused: ${detail}`), "events");
    }
  }

  /**
   * Hand what is queued to navigator.sendBeacon (the page is going away). Events the browser
   * accepted are forgotten; a refused chunk stays queued (and stored for the next load).
   */
  beacon() {
    const send = this.#o.sendBeacon;
    if (!send || this.#queue.length === 0) return 0;
    let sent = 0;
    for (const chunk of beaconBodies(this.#o.sdkKey, this.#queue)) {
      let ok = false;
      try {
        ok = send(`${this.#o.url}/v1/events`, chunk.body);
      } catch (error) {
        this.#o.onError(error, "beacon");
      }
      if (!ok) break;
      sent += chunk.events.length;
      this.#forget(new Set(chunk.events.map((e) => e.eventId)));
    }
    this.handedOver += sent;
    return sent;
  }

  /** Stop the timers after one last flush attempt. */
  async close() {
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#retryTimer);
    this.#timer = null;
    this.#retryTimer = null;
  }
}
