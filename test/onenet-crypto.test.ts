// The simulator's `crypt` Digest and `hmac` (tools/sim/modules/, on @noble/hashes) and `base64`
// against node:crypto and Buffer: random inputs of every length around the block boundaries, written in
// random pieces, and the published test vectors (RFC 1321 A.5 for MD5, FIPS 180-4 examples for
// SHA-1/SHA-256, RFC 2202 and RFC 4231 for HMAC, RFC 4648 section 10 for base64). Then the same
// modules bundled into the XS lane (no TextEncoder, no Node), and OneNET's token worked examples
// (docs/onenet.md) computed by onenet/token.ts in both lanes.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { Digest } from "../tools/sim/modules/crypt.ts";
import HMAC from "../tools/sim/modules/hmac.ts";
import Base64 from "../tools/sim/modules/base64.ts";
import { token, signature, stringToSign } from "../onenet/token.ts";
import { XsLane } from "../tools/sim/xs-lane.ts";

const hex = (b: ArrayBuffer) => Buffer.from(b).toString("hex");
const TYPES = [
  ["MD5", "md5"],
  ["SHA1", "sha1"],
  ["SHA224", "sha224"],
  ["SHA256", "sha256"],
] as const;

test("Digest: published vectors (RFC 1321 A.5, FIPS 180-4 examples)", () => {
  assert.equal(hex(new Digest("MD5").process("")), "d41d8cd98f00b204e9800998ecf8427e");
  assert.equal(hex(new Digest("MD5").process("abc")), "900150983cd24fb0d6963f7d28e17f72");
  assert.equal(
    hex(new Digest("MD5").process("12345678901234567890123456789012345678901234567890123456789012345678901234567890")),
    "57edf4a22be3c955ac49da2e2107b67a",
  );
  assert.equal(hex(new Digest("SHA1").process("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  assert.equal(
    hex(new Digest("SHA256").process("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    hex(new Digest("SHA256").process("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

test("Digest: equals node:crypto on random inputs of 0..300 bytes, in random chunks", () => {
  for (const [ours, node] of TYPES) {
    const d = new Digest(ours);
    for (let len = 0; len <= 300; len++) {
      const data = randomBytes(len);
      // write in 1..3 random pieces, as ArrayBuffer / Uint8Array / subarray views
      let at = 0;
      d.reset();
      while (at < len) {
        const take = Math.min(len - at, 1 + Math.floor(Math.random() * 70));
        const piece = new Uint8Array(data.buffer, data.byteOffset + at, take);
        d.write(at % 2 ? piece : piece.slice().buffer);
        at += take;
      }
      assert.equal(hex(d.close()), createHash(node).update(data).digest("hex"), `${ours} len ${len}`);
    }
    // a million-ish bytes crosses 2^23 bits, exercising the length field beyond one byte
    const big = randomBytes(1 << 20);
    assert.equal(hex(d.process(big)), createHash(node).update(big).digest("hex"), `${ours} 1 MiB`);
  }
});

test("Digest: strings are hashed as UTF-8, like the native module", () => {
  const s = "温度 °C — 🌡";
  for (const [ours, node] of TYPES) {
    assert.equal(hex(new Digest(ours).process(s)), createHash(node).update(s, "utf8").digest("hex"));
  }
});

test("Digest: sizes, and unknown types throw like the native module", () => {
  assert.equal(new Digest("MD5").outputSize, 16);
  assert.equal(new Digest("SHA1").outputSize, 20);
  assert.equal(new Digest("SHA256").outputSize, 32);
  assert.equal(new Digest("SHA256").blockSize, 64);
  assert.throws(() => new Digest("SHA3" as "SHA1"), /crypt: unsupported digest/);
});

test("HMAC: RFC 2202 / RFC 4231 vectors", () => {
  const key = new Uint8Array(20).fill(0x0b);
  assert.equal(hex(new HMAC(new Digest("MD5"), new Uint8Array(16).fill(0x0b)).process("Hi There")), "9294727a3638bb1c13f48ef8158bfc9d");
  assert.equal(hex(new HMAC(new Digest("SHA1"), key).process("Hi There")), "b617318655057264e28bc0b6fb378c8ef146be00");
  assert.equal(
    hex(new HMAC(new Digest("SHA256"), key).process("Hi There")),
    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
  );
  // RFC 4231 test case 6: a 131-byte key (longer than the block) is hashed first
  assert.equal(
    hex(new HMAC(new Digest("SHA256"), new Uint8Array(131).fill(0xaa)).process("Test Using Larger Than Block-Size Key - Hash Key First")),
    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
  );
});

test("HMAC: equals node:crypto on random keys (0..150 bytes) and messages, reusable after close", () => {
  for (const [ours, node] of TYPES) {
    for (let i = 0; i < 200; i++) {
      const key = randomBytes(Math.floor(Math.random() * 151));
      const msg = randomBytes(Math.floor(Math.random() * 300));
      const mac = new HMAC(new Digest(ours), key);
      const expected = createHmac(node, key).update(msg).digest("hex");
      mac.update(msg.subarray(0, 7), msg.subarray(7));
      assert.equal(hex(mac.close()), expected, `${ours} #${i}`);
      assert.equal(hex(mac.process(msg)), expected, `${ours} #${i} process after close`);
    }
  }
});

test("HMAC: sign truncates to bitlen; verify compares", () => {
  const key = randomBytes(32);
  const mac = new HMAC(new Digest("SHA256"), key, 128);
  const sig = mac.sign("message");
  assert.equal(sig.byteLength, 16);
  assert.equal(hex(sig), createHmac("sha256", key).update("message").digest("hex").slice(0, 32));
  mac.reset();
  assert.equal(mac.verify("message", sig), true);
  mac.reset();
  assert.equal(mac.verify("massage", sig), false);
});

test("Base64: RFC 4648 section 10 vectors and Buffer on random input", () => {
  const vectors: [string, string][] = [["", ""], ["f", "Zg=="], ["fo", "Zm8="], ["foo", "Zm9v"], ["foob", "Zm9vYg=="], ["fooba", "Zm9vYmE="], ["foobar", "Zm9vYmFy"]];
  for (const [plain, coded] of vectors) {
    assert.equal(Base64.encode(plain), coded);
    assert.equal(Buffer.from(Base64.decode(coded)).toString("latin1"), plain);
  }
  for (let len = 0; len < 200; len++) {
    const data = randomBytes(len);
    const coded = Base64.encode(data);
    assert.equal(coded, data.toString("base64"));
    assert.deepEqual(Buffer.from(Base64.decode(coded)), data);
    assert.equal(Base64.encode(new Uint8Array(data).buffer), coded);
  }
  assert.equal(Base64.encode("°C"), Buffer.from("°C", "utf8").toString("base64"));
});

test("Base64.decode is lenient like modBase64.c: skips characters outside the alphabet", () => {
  assert.equal(Buffer.from(Base64.decode("Zm9v\nYmFy")).toString(), "foobar");
  assert.equal(Buffer.from(Base64.decode("Zm9v YmE=")).toString(), "fooba");
});

// ---- OneNET's token worked examples, and the modules inside XS ----------------------------------

// docs/onenet.md, "Token": the documentation's example device, and its md5 token verbatim; the sha1
// and sha256 signatures over the same string come from node:crypto createHmac.
const DOC = { product: "EJyXIoGn8p", device: "test", key: "l3Vdt0EVyzPFR3kZs2XpQzn5v3Ht2VlvATmXxV0zdak=", et: 1596067735 };
const RES = "products/EJyXIoGn8p/devices/test";
const WORKED = {
  md5: "version=2018-10-31&res=products%2FEJyXIoGn8p%2Fdevices%2Ftest&et=1596067735&method=md5&sign=KjQ3tFpNOHv6Cm2rLjDV%2FA%3D%3D",
  sha1: "xzqXkjEBGKDRQIiOwA7Jq0mnrLQ=",
  sha256: "version=2018-10-31&res=products%2FEJyXIoGn8p%2Fdevices%2Ftest&et=1596067735&method=sha256&sign=CiUqmTCTrhH2SbrHZzoda57A8cysKXYAuybGx5BcJwk%3D",
};

test("OneNET token worked examples (Node lane): md5 token verbatim, sha1 signature, sha256 token", () => {
  assert.equal(token({ ...DOC, method: "md5" }), WORKED.md5);
  assert.equal(signature("sha1", DOC.key, stringToSign(DOC.et, "sha1", RES)), WORKED.sha1);
  assert.equal(token({ ...DOC, method: "sha256" }), WORKED.sha256);
});

const lanes: XsLane[] = [];
after(async () => {
  for (const lane of lanes) await lane.close();
});

async function cryptoLane(): Promise<XsLane> {
  const lane = await XsLane.start({
    entryCode: `import { Digest } from "crypt"; import HMAC from "hmac"; import Base64 from "base64";
      import { token, signature, stringToSign } from "./onenet/token.ts";
      const hex = (b) => Array.from(new Uint8Array(b), (x) => (x < 16 ? "0" : "") + x.toString(16)).join("");
      globalThis.__sim.entry = { Digest, HMAC, Base64, token, signature, stringToSign, hex };`,
    boot: false,
  });
  lanes.push(lane);
  return lane;
}

test("OneNET token worked examples (XS lane): the same strings from onenet/token.ts inside XS", async () => {
  const lane = await cryptoLane();
  const doc = JSON.stringify(DOC);
  const e = "globalThis.__sim.entry";
  assert.equal((await lane.query(`${e}.token({ ...${doc}, method: "md5" })`)).value, WORKED.md5);
  assert.equal((await lane.query(`${e}.signature("sha1", ${JSON.stringify(DOC.key)}, ${e}.stringToSign(${DOC.et}, "sha1", ${JSON.stringify(RES)}))`)).value, WORKED.sha1);
  assert.equal((await lane.query(`${e}.token({ ...${doc}, method: "sha256" })`)).value, WORKED.sha256);
});

test("inside XS: Digest and HMAC equal node:crypto for every type, strings hashed as UTF-8", async () => {
  const lane = await cryptoLane();
  const e = "globalThis.__sim.entry";
  const s = "温度 °C — 🌡";
  for (const [ours, node] of TYPES) {
    for (const len of [0, 55, 56, 64, 111, 112, 128, 300]) {
      const data = randomBytes(len);
      const key = randomBytes(len % 150);
      const bytes = (b: Buffer): string => `new Uint8Array(${JSON.stringify([...b])})`;
      const { value } = await lane.query(
        `[${e}.hex(new ${e}.Digest("${ours}").process(${bytes(data)})), ${e}.hex(new ${e}.HMAC(new ${e}.Digest("${ours}"), ${bytes(key)}).process(${bytes(data)}))].join()`,
      );
      assert.equal(value, `${createHash(node).update(data).digest("hex")},${createHmac(node, key).update(data).digest("hex")}`, `${ours} len ${len}`);
    }
    const { value } = await lane.query(`${e}.hex(new ${e}.Digest("${ours}").process(${JSON.stringify(s)}))`);
    assert.equal(value, createHash(node).update(s, "utf8").digest("hex"), `${ours} of a UTF-8 string`);
  }
});
