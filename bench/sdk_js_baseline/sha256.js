// SHA-256 (FIPS 180-4), synchronous. Browsers' SubtleCrypto digest is asynchronous only, and
// assignment must be a plain function call, so this module carries a compact implementation.
// In Node (process.getBuiltinModule available) the native node:crypto hash is used instead;
// the tests check that both give the same digests.

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H0 = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const W = new Uint32Array(64);
// Scratch space for the padded message, reused between calls (JavaScript runs one call at a
// time per realm) and grown when a longer message arrives: no allocation per hash.
let scratch = new Uint8Array(256);

function room(bytes) {
  if (scratch.length < bytes) scratch = new Uint8Array(Math.max(bytes, scratch.length * 2));
  return scratch;
}

/** Hash the `length` message bytes at the start of `block` (which has room for padding). */
function digestPadded(block, length) {
  const total = ((length + 9 + 63) >>> 6) << 6;
  block[length] = 0x80;
  block.fill(0, length + 1, total - 8);
  const high = Math.floor(length / 0x20000000); // bit length = length * 8, as two words
  const low = (length * 8) >>> 0;
  block[total - 8] = high >>> 24;
  block[total - 7] = high >>> 16;
  block[total - 6] = high >>> 8;
  block[total - 5] = high;
  block[total - 4] = low >>> 24;
  block[total - 3] = low >>> 16;
  block[total - 2] = low >>> 8;
  block[total - 1] = low;
  let [h0, h1, h2, h3, h4, h5, h6, h7] = H0;
  for (let offset = 0; offset < total; offset += 64) {
    for (let t = 0, i = offset; t < 16; t++, i += 4) {
      W[t] = (block[i] << 24) | (block[i + 1] << 16) | (block[i + 2] << 8) | block[i + 3];
    }
    for (let t = 16; t < 64; t++) {
      const a = W[t - 15];
      const b = W[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[t] + W[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
  }
  const out = new Uint8Array(32);
  [h0, h1, h2, h3, h4, h5, h6, h7].forEach((word, i) => {
    out[i * 4] = word >>> 24;
    out[i * 4 + 1] = word >>> 16;
    out[i * 4 + 2] = word >>> 8;
    out[i * 4 + 3] = word;
  });
  return out;
}

/** SHA-256 of `bytes` (a Uint8Array) in pure JavaScript; returns 32 bytes. */
export function sha256Portable(bytes) {
  const block = room(bytes.length + 72);
  block.set(bytes);
  return digestPadded(block, bytes.length);
}

const encoder = new TextEncoder();

/** SHA-256 of the UTF-8 encoding of `text`, in pure JavaScript, encoding in place. */
export function sha256PortableText(text) {
  const block = room(text.length * 3 + 72); // UTF-8 needs at most 3 bytes per UTF-16 unit
  const { written } = encoder.encodeInto(text, block);
  return digestPadded(block, written);
}

function nativeSha256() {
  const getBuiltin = globalThis.process?.getBuiltinModule;
  if (typeof getBuiltin !== "function") return null;
  const crypto = getBuiltin("node:crypto");
  if (typeof crypto?.hash === "function") {
    // One-shot hashing (Node 20.12+), about twice as fast as createHash().update().digest().
    return (data) => new Uint8Array(crypto.hash("sha256", data, "buffer"));
  }
  if (typeof crypto?.createHash !== "function") return null;
  return (data) => new Uint8Array(crypto.createHash("sha256").update(data).digest());
}

const native = nativeSha256();

/** SHA-256 of `bytes` (a Uint8Array): node:crypto when available synchronously, else portable. */
export const sha256 = native ?? sha256Portable;

/**
 * SHA-256 of the UTF-8 encoding of `text` (a well-formed string). Node's native hash encodes
 * strings as UTF-8 itself, which saves a copy; the portable path encodes first.
 */
export const sha256Text = native ?? sha256PortableText;

/** Whether `sha256` is the native implementation (for tests and diagnostics). */
export const nativeHash = native !== null;
