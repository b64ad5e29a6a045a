// Where the client keeps what must outlive the page or the process: the last config (with its
// ETag) and the events not yet handed to the collector. A cache is any object with
// synchronous get(key) -> string | null, set(key, value), remove(key) and keys(); every call is
// guarded by the client, so a full or refused storage never reaches the page.

/** A cache in this process's memory only (the default in Node). */
export function memoryCache() {
  const entries = new Map();
  return {
    kind: "memory",
    get: (key) => (entries.has(key) ? entries.get(key) : null),
    set: (key, value) => void entries.set(key, String(value)),
    remove: (key) => void entries.delete(key),
    keys: () => [...entries.keys()],
  };
}

/** The page's localStorage, or null when there is none or it refuses access (private modes). */
export function localStorageCache(storage = globalThis.localStorage) {
  try {
    if (!storage) return null;
    const probe = "splitlab:probe";
    storage.setItem(probe, "1");
    storage.removeItem(probe);
  } catch {
    return null;
  }
  return {
    kind: "localStorage",
    get: (key) => storage.getItem(key),
    set: (key, value) => storage.setItem(key, String(value)),
    remove: (key) => storage.removeItem(key),
    keys: () => Array.from({ length: storage.length }, (_, i) => storage.key(i)).filter((k) => k !== null),
  };
}

function nodeFs() {
  const get = globalThis.process?.getBuiltinModule;
  if (typeof get !== "function") {
    throw new Error("fileCache needs Node 20.16+ (process.getBuiltinModule); use memoryCache()");
  }
  return get("node:fs");
}

/**
 * A cache in one JSON file (Node): read once, rewritten whole on each change through a
 * temporary file and a rename, so a crash leaves the old file or the new one, never half.
 * An unreadable or corrupt file counts as empty (the client then starts as without a cache).
 */
export function fileCache(path) {
  const fs = nodeFs();
  let entries = {};
  try {
    const parsed = JSON.parse(fs.readFileSync(path, "utf8"));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) entries = parsed;
  } catch {
    entries = {};
  }
  const save = () => {
    const temporary = `${path}.${globalThis.process?.pid ?? 0}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(entries));
    fs.renameSync(temporary, path);
  };
  return {
    kind: "file",
    path,
    get: (key) => (typeof entries[key] === "string" ? entries[key] : null),
    set: (key, value) => {
      entries[key] = String(value);
      save();
    },
    remove: (key) => {
      if (key in entries) {
        delete entries[key];
        save();
      }
    },
    keys: () => Object.keys(entries),
  };
}

/** The default: localStorage in a browser that allows it, else memory. */
export function defaultCache() {
  return localStorageCache() ?? memoryCache();
}
