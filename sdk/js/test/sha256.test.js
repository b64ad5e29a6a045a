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
