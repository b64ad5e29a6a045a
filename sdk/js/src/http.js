// Small HTTP helpers shared by the config source and the tracker: a fetch that gives up
// after a time, the wait before a retry (exponential back-off with full jitter, honouring
// Retry-After), and the error type that says whether a failure may be retried.

/** A failed request: `retryable` for network errors, timeouts, 5xx and 429. */
export class HttpError extends Error {
  constructor(message, { status = 0, retryable = true, retryAfterMs = null, body = null } = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
    this.body = body;
  }
}

/** `fetchImpl(url, init)` aborted after `timeoutMs`; network failures become HttpError. */
export async function fetchWithTimeout(fetchImpl, url, init, timeoutMs) {
  const controller = typeof AbortController === "function" ? new AbortController() : null;
  const timer = controller ? setTimeout(() => controller.abort(), timeoutMs) : null;
  try {
    return await fetchImpl(url, controller ? { ...init, signal: controller.signal } : init);
  } catch (error) {
    const what = error?.name === "AbortError" ? `no answer within ${timeoutMs} ms` : String(error?.message ?? error);
    throw new HttpError(`${init?.method ?? "GET"} ${url}: ${what}`);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

/** Milliseconds from a Retry-After header (delay-seconds or an HTTP-date), else null. */
export function retryAfterMs(header, now = Date.now()) {
  if (header === null || header === undefined || header === "") return null;
  const text = String(header).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * The wait before retry `attempt` (1, 2, ...): uniform in [0, min(cap, base * 2^(attempt-1))]
 * (full jitter), and at least the server's Retry-After (itself capped at `maxRetryAfterMs`).
 */
export function backoffMs(attempt, { baseMs = 500, capMs = 30000, retryAfter = null, maxRetryAfterMs = 300000, random = Math.random } = {}) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = random() * ceiling;
  if (retryAfter === null) return jittered;
  return Math.max(Math.min(retryAfter, maxRetryAfterMs), jittered);
}

/** An HttpError for a non-2xx answer: 5xx, 408 and 429 may be retried, other 4xx not. */
export async function answerError(response, what) {
  let body = null;
  try {
    body = await response.text();
  } catch {
    body = null;
  }
  const status = response.status;
  const retryable = status >= 500 || status === 429 || status === 408;
  const wait = retryAfterMs(response.headers?.get?.("Retry-After") ?? null);
  const detail = body ? `: ${body.slice(0, 300)}` : "";
  return new HttpError(`${what}: HTTP ${status}${detail}`, { status, retryable, retryAfterMs: wait, body });
}

/** setTimeout that does not keep a Node process alive (no-op difference in browsers). */
export function later(fn, ms) {
  const timer = setTimeout(fn, ms);
  if (typeof timer === "object" && typeof timer?.unref === "function") timer.unref();
  return timer;
}
