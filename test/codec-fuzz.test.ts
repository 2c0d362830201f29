// Hostile input: random and mutated byte streams, in random chunkings, must yield packets or a
// ProtocolError and nothing else (no TypeError, RangeError, hang or unbounded buffering). Whatever
// the decoder accepts must be something encode accepts and that decodes back to the same packet
// ("encode refuses to produce what push would refuse", read from the other side). Only the hostile
// bytes may be refused: a refusal of our own encoder's output is a failure, never a "refused" count.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encode } from "../mqtt/encode.ts";
import { Decoder } from "../mqtt/decode.ts";
import { ProtocolError } from "../mqtt/validate.ts";
import type { Packet, PacketInput } from "../mqtt/packets.ts";

/** xorshift32: a fixed seed gives the same inputs on every run. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return { next, below: (n: number) => next() % n, chance: (p: number) => next() / 0x1_0000_0000 < p };
}

const seeds: PacketInput[] = [
  { cmd: "connect", clean: true, keepalive: 60, clientId: "device-001", username: "AbCdEf1234", password: new Uint8Array([1, 2, 3, 4]) },
  { cmd: "connect", clean: false, keepalive: 5, clientId: "x", will: { topic: "w/t", payload: new Uint8Array([7]), qos: 1, retain: true } },
  { cmd: "connack", sessionPresent: true, returnCode: 0 },
  { cmd: "publish", topic: "$sys/AbCdEf1234/device-001/thing/property/post", payload: new Uint8Array(40).fill(0x7b), qos: 1, messageId: 300 },
  { cmd: "publish", topic: "雪/ü", payload: new Uint8Array(3), qos: 2, messageId: 1, dup: true },
  { cmd: "publish", topic: "t", payload: new Uint8Array(200) },
  { cmd: "puback", messageId: 1 },
  { cmd: "pubrel", messageId: 9 },
  { cmd: "subscribe", messageId: 2, subscriptions: [{ topic: "a/+/#", qos: 1 }, { topic: "b", qos: 0 }] },
  { cmd: "suback", messageId: 2, granted: [0, 0x80] },
  { cmd: "unsubscribe", messageId: 3, unsubscriptions: ["a/+/#"] },
  { cmd: "pingresp" },
];
const seedBytes = seeds.map((p) => encode(p));

function mutate(r: ReturnType<typeof rng>): Uint8Array {
  const kind = r.below(5);
  if (kind === 0) {
    // plain random bytes
    const out = new Uint8Array(1 + r.below(64));
    for (let i = 0; i < out.length; i++) out[i] = r.below(256);
    return out;
  }
  const base = seedBytes[r.below(seedBytes.length)];
  const out = Array.from(base);
  const edits = 1 + r.below(4);
  for (let e = 0; e < edits; e++) {
    const at = r.below(out.length);
    switch (r.below(5)) {
      case 0: out[at] ^= 1 << r.below(8); break; // bit flip
      case 1: out[at] = r.below(256); break; // byte replaced
      case 2: out.splice(at, 1); break; // byte dropped
      case 3: out.splice(at, 0, r.below(256)); break; // byte inserted
      default: out[r.below(Math.min(out.length, 4))] = r.chance(0.5) ? 0xff : 0x80; // header/length damage
    }
    if (out.length === 0) out.push(r.below(256));
  }
  return new Uint8Array(out);
}

/** Re-encodes a packet the decoder accepted and decodes that again: any throw here fails the test. */
function roundTrips(packet: Packet): void {
  const again = new Decoder({ maxPacketSize: 1 << 20 }).push(encode(packet));
  assert.equal(again.length, 1);
  assert.deepEqual(JSON.stringify(again[0], (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v)),
    JSON.stringify(packet, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v)));
}

test("100,000 random and mutated inputs yield packets or ProtocolError, nothing else", () => {
  const r = rng(0xc0dec);
  const maxPacketSize = 4096;
  let accepted = 0;
  let refused = 0;
  for (let n = 0; n < 100_000; n++) {
    const input = mutate(r);
    const decoder = new Decoder({ maxPacketSize });
    // Feed it in random chunks, as a socket would.
    let at = 0;
    while (at < input.length) {
      const size = 1 + r.below(input.length - at);
      let packets: Packet[];
      try {
        packets = decoder.push(input.subarray(at, at + size));
      } catch (error) {
        if (!(error instanceof ProtocolError)) {
          throw new Error(`input ${Buffer.from(input).toString("hex")} threw ${String(error)}`);
        }
        refused++;
        // What the decoder accepted before refusing must round-trip too.
        for (const packet of decoder.packetsBeforeError) roundTrips(packet);
        accepted += decoder.packetsBeforeError.length;
        break;
      }
      for (const packet of packets) roundTrips(packet);
      accepted += packets.length;
      at += size;
      assert.ok(decoder.pendingBytes <= maxPacketSize, "buffering stays within maxPacketSize");
    }
  }
  // Both outcomes must actually occur, or the generator is not exercising the decoder.
  assert.ok(accepted > 1000, `accepted ${accepted}`);
  assert.ok(refused > 10_000, `refused ${refused}`);
});

test("encode refuses malformed packet objects with ProtocolError only", () => {
  const r = rng(0xbadf00d);
  const junk: unknown[] = [undefined, null, -1, 0, 1.5, 65536, NaN, "", "a/#", "\u0000", "\ud800", [], {}, new Uint8Array(2), 3, true];
  const pick = () => junk[r.below(junk.length)];
  const fields = ["topic", "payload", "qos", "messageId", "dup", "retain", "clientId", "keepalive", "username", "password", "will", "returnCode", "sessionPresent", "subscriptions", "granted", "unsubscriptions"];
  let refused = 0;
  for (let n = 0; n < 20_000; n++) {
    const packet: Record<string, unknown> = { ...seeds[r.below(seeds.length)] };
    // Mostly damage a field the packet type has, sometimes add an unrelated one.
    const own = Object.keys(packet).filter((k) => k !== "cmd");
    const field = own.length > 0 && r.chance(0.9) ? own[r.below(own.length)] : fields[r.below(fields.length)];
    packet[field] = pick();
    let bytes: Uint8Array;
    try {
      bytes = encode(packet as PacketInput);
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        throw new Error(`encode(${JSON.stringify(packet)}) threw ${String(error)}`);
      }
      refused++;
      continue;
    }
    // What encode produced, the decoder must accept: a ProtocolError here fails the test.
    assert.equal(new Decoder({ maxPacketSize: 1 << 20 }).push(bytes).length, 1, JSON.stringify(packet));
  }
  assert.ok(refused > 8000, `refused ${refused}`);
});
