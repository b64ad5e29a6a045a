// Where the client's config comes from: GET /v1/config with If-None-Match (a 304 costs
// nothing), polled on an interval, and refetched at once when the server-sent event stream
// GET /v1/config/stream says the config changed. A stream that drops is reopened with
// back-off while polling goes on, so a lost stream only slows updates to the poll interval.

import { HttpError, answerError, backoffMs, fetchWithTimeout, later } from "./http.js";

/** A config document that is not {"experiments": [...], "savedGroups"?: {...}}. */
export class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The document's parts the client uses; throws ConfigError naming the JSON path. */
export function readConfig(document) {
  if (document === null || typeof document !== "object" || Array.isArray(document)) {
    throw new ConfigError(`config $: expected an object {"experiments": [...]} (got ${typeof document})`);
  }
  const { experiments, savedGroups = {} } = document;
  if (!Array.isArray(experiments)) {
    throw new ConfigError(`config $.experiments: expected a list of experiment definitions (got ${JSON.stringify(experiments)?.slice(0, 80)})`);
  }
  if (savedGroups === null || typeof savedGroups !== "object" || Array.isArray(savedGroups)) {
    throw new ConfigError("config $.savedGroups: expected an object of group name -> values");
  }
  return { experiments, savedGroups };
}

export class ConfigSource {
  #o;
  #etag = null;
  #inFlight = null;
  #again = false;
  #pollTimer = null;
  #stream = null;
  #streamTimer = null;
  #streamAttempt = 0;
  #closed = false;

  /**
   * options: url, sdkKey, fetch, timeoutMs, refreshIntervalMs, stream (bool), EventSource,
   * streamBackoffCapMs, onConfig(document, etag) (throws to refuse it), onError(error, where).
   */
  constructor(options) {
    this.#o = options;
    this.streamOpen = false;
  }

  get etag() {
    return this.#etag;
  }

  /** The ETag of the config the client serves (from the cache before the first fetch). */
  set etag(value) {
    this.#etag = value;
  }

  /** Fetch once (joining a fetch under way): "updated" or "not_modified"; throws on failure. */
  refresh() {
    if (this.#inFlight !== null) {
      this.#again = true;
      return this.#inFlight;
    }
    this.#inFlight = this.#fetch().finally(() => {
      this.#inFlight = null;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.refresh().catch((error) => this.#o.onError(error, "config"));
      }
    });
    return this.#inFlight;
  }

  async #fetch() {
    const { url, sdkKey, timeoutMs } = this.#o;
    const headers = { Authorization: `Bearer ${sdkKey}`, Accept: "application/json" };
    if (this.#etag !== null) headers["If-None-Match"] = this.#etag;
    const where = `GET ${url}/v1/config`;
    const response = await fetchWithTimeout(this.#o.fetch, `${url}/v1/config`, { method: "GET", headers, cache: "no-store" }, timeoutMs);
    if (response.status === 304) return "not_modified";
    if (!response.ok) throw await answerError(response, where);
    let document;
    try {
      document = await response.json();
    } catch (error) {
      throw new HttpError(`${where}: the body is not JSON (${error?.message ?? error})`, { status: response.status });
    }
    readConfig(document);
    const etag = response.headers.get("ETag");
    this.#o.onConfig(document, etag);
    this.#etag = etag;
    return "updated";
  }

  /** Start polling and, when enabled, the change stream. */
  start() {
    this.#schedulePoll();
    if (this.#o.stream) this.#openStream();
  }

  #schedulePoll() {
    const every = this.#o.refreshIntervalMs;
    if (this.#closed || !(every > 0) || !Number.isFinite(every)) return;
    this.#pollTimer = later(() => {
      this.refresh()
        .catch((error) => this.#o.onError(error, "config"))
        .finally(() => this.#schedulePoll());
    }, every);
  }

  #openStream() {
    if (this.#closed) return;
    const Source = this.#o.EventSource;
    const address = `${this.#o.url}/v1/config/stream?key=${encodeURIComponent(this.#o.sdkKey)}`;
    let source;
    try {
      source = new Source(address);
    } catch (error) {
      this.#o.onError(error, "stream");
      this.#reconnect();
      return;
    }
    this.#stream = source;
    source.onopen = () => {
      this.#streamAttempt = 0;
      this.streamOpen = true;
    };
    source.addEventListener("config", (message) => {
      let etag = null;
      try {
        etag = JSON.parse(message.data)?.etag ?? null;
      } catch {
        etag = null; // an unreadable notice still means "look again"
      }
      if (etag !== null && etag === this.#etag) return;
      this.refresh().catch((error) => this.#o.onError(error, "config"));
    });
    source.onerror = () => {
      // The browser would retry on its own at a fixed pace, or give up for good on a bad
      // answer; closing and reopening with back-off handles both the same way.
      this.streamOpen = false;
      source.close();
      if (this.#stream === source) this.#stream = null;
      this.#reconnect();
    };
  }

  #reconnect() {
    if (this.#closed || this.#streamTimer !== null) return;
    this.#streamAttempt += 1;
    const wait = 250 + backoffMs(this.#streamAttempt, { baseMs: 1000, capMs: this.#o.streamBackoffCapMs ?? 30000 });
    this.#streamTimer = later(() => {
      this.#streamTimer = null;
      this.#openStream();
    }, wait);
  }

  /** Stop polling and close the stream. */
  close() {
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    clearTimeout(this.#streamTimer);
    this.#streamTimer = null;
    this.streamOpen = false;
    this.#stream?.close();
    this.#stream = null;
  }
}
