// SHA-256 (FIPS 180-4), synchronous. Browsers' SubtleCrypto digest is asynchronous only, and
// assignment must be a plain function call, so this module carries a compact implementation.
// In Node (process.getBuiltinModule available) the native node:crypto hash is used instead;
// the tests check that both give the same digests.
//
// The portable hash is on every browser assignment's path, so it avoids allocation: one
// reused message buffer per hashed prefix (the experiment's "splitlab/v1|id|salt|" is
// written once, each unit is UTF-8-encoded after it), an Int32Array schedule (int32 values
// stay small integers in V8, where Uint32Array reads above 2^31 become doubles), rounds
// unrolled eight at a time with the working variables renamed instead of shifted, and the
// digest left in a shared Int32Array of eight big-endian words (WORDS).

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W = new Int32Array(64);

/** The last portable digest as eight big-endian 32-bit words (signed); overwritten by each hash. */
export const WORDS = new Int32Array(8);

/** The initial hash value H(0) of FIPS 180-4, section 5.3.3. */
const INITIAL = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/**
 * Hash the blocks m[from .. total) (multiples of 64) starting from the state `state` (eight
 * words: INITIAL, or a midstate after earlier blocks) into WORDS.
 */
function compress(m, from, total, state) {
  let h0 = state[0];
  let h1 = state[1];
  let h2 = state[2];
  let h3 = state[3];
  let h4 = state[4];
  let h5 = state[5];
  let h6 = state[6];
  let h7 = state[7];
  for (let offset = from; offset < total; offset += 64) {
    for (let t = 0, i = offset; t < 16; t++, i += 4) {
      W[t] = (m[i] << 24) | (m[i + 1] << 16) | (m[i + 2] << 8) | m[i + 3];
    }
    for (let t = 16; t < 64; t++) {
      const x = W[t - 15];
      const y = W[t - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      W[t] = (((W[t - 16] + s0) | 0) + ((W[t - 7] + s1) | 0)) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7, t1 = 0;
    for (let t = 0; t < 64; t += 8) {
      // eight rounds; after each, the variable roles shift by one (a <- h's slot, ...)
      t1 = (((h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0) + (((g ^ (e & (f ^ g))) + K[t + 0]) | 0) + W[t + 0]) | 0;
      d = (d + t1) | 0;
      h = (t1 + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) | (c & (a | b)))) | 0;
      t1 = (((g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0) + (((f ^ (d & (e ^ f))) + K[t + 1]) | 0) + W[t + 1]) | 0;
      c = (c + t1) | 0;
      g = (t1 + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) | (b & (h | a)))) | 0;
      t1 = (((f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0) + (((e ^ (c & (d ^ e))) + K[t + 2]) | 0) + W[t + 2]) | 0;
      b = (b + t1) | 0;
      f = (t1 + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) | (a & (g | h)))) | 0;
      t1 = (((e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0) + (((d ^ (b & (c ^ d))) + K[t + 3]) | 0) + W[t + 3]) | 0;
      a = (a + t1) | 0;
      e = (t1 + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) | (h & (f | g)))) | 0;
      t1 = (((d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0) + (((c ^ (a & (b ^ c))) + K[t + 4]) | 0) + W[t + 4]) | 0;
      h = (h + t1) | 0;
      d = (t1 + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) | (g & (e | f)))) | 0;
      t1 = (((c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) | 0) + (((b ^ (h & (a ^ b))) + K[t + 5]) | 0) + W[t + 5]) | 0;
      g = (g + t1) | 0;
      c = (t1 + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) | (f & (d | e)))) | 0;
      t1 = (((b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0) + (((a ^ (g & (h ^ a))) + K[t + 6]) | 0) + W[t + 6]) | 0;
      f = (f + t1) | 0;
      b = (t1 + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) | (e & (c | d)))) | 0;
      t1 = (((a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0) + (((h ^ (f & (g ^ h))) + K[t + 7]) | 0) + W[t + 7]) | 0;
      e = (e + t1) | 0;
      a = (t1 + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) | (d & (b | c)))) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  WORDS[0] = h0;
  WORDS[1] = h1;
  WORDS[2] = h2;
  WORDS[3] = h3;
  WORDS[4] = h4;
  WORDS[5] = h5;
  WORDS[6] = h6;
  WORDS[7] = h7;
}

/**
 * Pad the `length` message bytes at the start of `m` (room for 72 more) and hash them; the
 * blocks before `from` are already in `state` (default: none).
 */
function finish(m, length, from = 0, state = INITIAL) {
  const total = ((length + 72) >>> 6) << 6; // length + 0x80 + 8 length bytes, whole blocks
  m[length] = 0x80;
  m.fill(0, length + 1, total - 5);
  const high = Math.floor(length / 0x20000000); // bit length = length * 8, as two words
  const low = (length * 8) >>> 0;
  m[total - 5] = high;
  m[total - 4] = low >>> 24;
  m[total - 3] = low >>> 16;
  m[total - 2] = low >>> 8;
  m[total - 1] = low;
  compress(m, from, total, state);
}

/**
 * Write the UTF-8 encoding of text[from ..] into `m` from `at` (room for 3 bytes per UTF-16 unit);
 * returns the end. A lone surrogate becomes U+FFFD, as TextEncoder does.
 */
function utf8Into(text, from, m, at) {
  const n = text.length;
  for (let i = from; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      m[at++] = c;
    } else if (c < 0x800) {
      m[at++] = 0xc0 | (c >>> 6);
      m[at++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          m[at++] = 0xf0 | (c >>> 18);
          m[at++] = 0x80 | ((c >>> 12) & 0x3f);
          m[at++] = 0x80 | ((c >>> 6) & 0x3f);
          m[at++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      m[at++] = 0xe0 | (c >>> 12);
      m[at++] = 0x80 | ((c >>> 6) & 0x3f);
      m[at++] = 0x80 | (c & 0x3f);
    }
  }
  return at;
}

// The general-purpose scratch buffer (sha256Portable, sha256PortableText), grown on demand.
let scratch = new Uint8Array(256);

function room(bytes) {
  if (scratch.length < bytes) scratch = new Uint8Array(Math.max(bytes, scratch.length * 2));
  return scratch;
}

function digestBytes() {
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const word = WORDS[i];
    out[i * 4] = word >>> 24;
    out[i * 4 + 1] = word >>> 16;
    out[i * 4 + 2] = word >>> 8;
    out[i * 4 + 3] = word;
  }
  return out;
}

/** SHA-256 of `bytes` (a Uint8Array) in pure JavaScript; returns 32 bytes. */
export function sha256Portable(bytes) {
  const m = room(bytes.length + 72);
  m.set(bytes);
  finish(m, bytes.length);
  return digestBytes();
}

/** SHA-256 of the UTF-8 encoding of `text`, in pure JavaScript, encoding in place. */
export function sha256PortableText(text) {
  const m = room(text.length * 3 + 72); // UTF-8 needs at most 3 bytes per UTF-16 unit
  finish(m, utf8Into(text, 0, m, 0));
  return digestBytes();
}

/**
 * A portable hasher of `head + unit` for a fixed `head` (an experiment's or a layer's prefix):
 * `hash(unit)` leaves the digest of the UTF-8 bytes of head + unit in WORDS. The head's bytes
 * are written into the hasher's own buffer once; each call encodes only the unit.
 */
export function prefixHasher(head) {
  const headBytes = new TextEncoder().encode(head);
  const start = headBytes.length;
  let m = new Uint8Array(Math.max(256, start + 128));
  m.set(headBytes);
  // The head's whole 64-byte blocks never change: hash them once (the midstate).
  const from = (start >>> 6) << 6;
  let state = INITIAL;
  if (from > 0) {
    compress(m, 0, from, INITIAL);
    state = WORDS.slice();
  }
  return (unit) => {
    const n = unit.length;
    if (m.length < start + n * 3 + 72) {
      const grown = new Uint8Array(2 * (start + n * 3 + 72));
      grown.set(headBytes);
      m = grown;
    }
    let at = start;
    for (let i = 0; i < n; i++) {
      const c = unit.charCodeAt(i);
      if (c >= 0x80) {
        at = utf8Into(unit, i, m, at);
        break;
      }
      m[at++] = c;
    }
    finish(m, at, from, state);
  };
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
