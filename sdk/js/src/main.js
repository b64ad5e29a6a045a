// The package's entry point: the assignment SDK (index.js) and the client (client.js).

export * from "./index.js";
export { createClient } from "./client.js";
export { defaultCache, fileCache, localStorageCache, memoryCache } from "./cache.js";
export { ConfigError, readConfig } from "./config-source.js";
export { HttpError, backoffMs, retryAfterMs } from "./http.js";
export { BEACON_LIMIT, beaconBodies, newEventId } from "./tracker.js";
