// The portable SHA-256 against published vectors and against node:crypto.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import {
  nativeHash,
  sha256,
  sha256Portable,
  sha256PortableText,
  sha256Text,
} from "../src/index.js";
import { WORDS, prefixHasher } from "../src/sha256.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const utf8 = (text) => new TextEncoder().encode(text);

// FIPS 180-4 examples (NIST CSRC "Examples with Intermediate Values", SHA-256).
const VECTORS = [
  ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  [
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  ],
];

test("published vectors", () => {
  for (const [message, digest] of VECTORS) {
    assert.equal(hex(sha256Portable(utf8(message))), digest);
  }
});

test("one million 'a' (FIPS 180-4 long message)", () => {
  const digest = hex(sha256Portable(new Uint8Array(1_000_000).fill(0x61)));
  assert.equal(digest, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
});

test("agrees with node:crypto on every length around the block boundaries", () => {
  let state = 12345; // a fixed linear congruential sequence: deterministic bytes
  for (let length = 0; length < 300; length++) {
    const bytes = new Uint8Array(length).map(() => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state >>> 24;
    });
    const expected = createHash("sha256").update(bytes).digest("hex");
    assert.equal(hex(sha256Portable(bytes)), expected, `length ${length}`);
    assert.equal(hex(sha256(bytes)), expected);
  }
});

test("Node uses the native hash", () => {
  assert.equal(nativeHash, true);
});

test("sha256Text hashes the UTF-8 bytes of well-formed text", () => {
  for (const text of ["", "abc", "Zoë", "ユーザー", "\u{1F600} emoji"]) {
    assert.equal(hex(sha256Text(text)), createHash("sha256").update(utf8(text)).digest("hex"));
    assert.equal(hex(sha256Text(text)), hex(sha256Portable(utf8(text))));
  }
});

test("the portable text path agrees with node:crypto, long then short (reused scratch)", () => {
  const texts = ["x".repeat(5000), "Zoë".repeat(40), "ユーザー", "", "abc", "a".repeat(55)];
  for (let n = 50; n < 70; n++) texts.push("é".repeat(n), "b".repeat(n));
  for (const text of texts) {
    const expected = createHash("sha256").update(utf8(text)).digest("hex");
    assert.equal(hex(sha256PortableText(text)), expected, `length ${text.length}`);
    assert.equal(hex(sha256Portable(utf8(text))), expected);
  }
});

// The assignment hot path: prefixHasher(head)(unit) leaves the digest of head + unit in WORDS.

/** A deterministic random string: ASCII, 2- and 3-byte UTF-8, surrogate pairs, lone surrogates. */
function randomText(next, length) {
  let text = "";
  for (let i = 0; i < length; i++) {
    const kind = next() % 10;
    if (kind < 5) text += String.fromCharCode(0x20 + (next() % 95));
    else if (kind < 7) text += String.fromCharCode(0x80 + (next() % 0x780));
    else if (kind < 8) text += String.fromCharCode(0x800 + (next() % 0xd000));
    else if (kind < 9) text += String.fromCodePoint(0x10000 + (next() % 0xfffff));
    else text += String.fromCharCode(0xd800 + (next() % 0x800)); // may be lone: U+FFFD
  }
  return text;
}

const wordsHex = () =>
  Array.from(WORDS, (w) => (w >>> 0).toString(16).padStart(8, "0")).join("");

test("prefixHasher and sha256PortableText agree with node:crypto on 3,000 random texts", () => {
  let state = 987654321;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8;
  // heads around the 64-byte block and a long one: units land at every offset of a block
  const heads = ["", "splitlab/v1|exp-checkout-flow-v3|prod-experiment-2024-q3|", "h".repeat(63), "h".repeat(64), "é".repeat(100)];
  const hashers = heads.map((head) => prefixHasher(head));
  for (let i = 0; i < 3000; i++) {
    const unit = randomText(next, next() % 200);
    const k = i % heads.length;
    const expected = createHash("sha256").update(utf8(heads[k] + unit)).digest("hex");
    hashers[k](unit);
    assert.equal(wordsHex(), expected, `head ${k}, unit ${JSON.stringify(unit)}`);
    assert.equal(hex(sha256PortableText(heads[k] + unit)), expected);
  }
});

test("a hasher grows its buffer for a long unit and stays right for short ones after", () => {
  const head = "splitlab/v1|e|s|";
  const hash = prefixHasher(head);
  for (const unit of ["u", "ü".repeat(5000), "u2", "x".repeat(100000), "\u{1F600}"]) {
    hash(unit);
    assert.equal(wordsHex(), createHash("sha256").update(utf8(head + unit)).digest("hex"));
  }
});
