// Differential tests of our codec (mqtt/encode, mqtt/decode) against mqtt-packet, an oracle no one
// here wrote: for thousands of random valid packets of every type, our bytes equal mqtt-packet's, we
// decode what it encodes, and it decodes what we encode. Fixed seeds: a failure reproduces.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import { encode } from "../mqtt/encode.ts";
import { Decoder } from "../mqtt/decode.ts";
import type { Packet, QoS } from "../mqtt/packets.ts";
import { utf8Length } from "../lib/utf8.ts";

const RUNS = 1500;
const SEED = 0x5eed;

// Strings MQTT allows: well-formed UTF-8 (any plane), no U+0000 [MQTT-1.5.3-1/2].
const mqttString = (maxLength = 24) =>
  fc.string({ unit: "binary", maxLength }).filter((s) => utf8Length(s) >= 0 && !s.includes("\u0000"));
const topicName = mqttString(30)
  .map((s) => s.replace(/[+#]/g, "_"))
  .filter((s) => s.length > 0);
const level = fc.oneof(
  { weight: 1, arbitrary: fc.constant("+") },
  { weight: 4, arbitrary: mqttString(8).map((s) => s.replace(/[+#/]/g, "_")) },
);
const topicFilter = fc
  .tuple(fc.array(level, { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([levels, multi]) => (multi ? [...levels, "#"] : levels).join("/"))
  .filter((s) => s.length > 0);
const qos = fc.constantFrom<QoS>(0, 1, 2);
const id = fc.integer({ min: 1, max: 65535 });
const bytesOfLength = (min: number, max: number) =>
  fc.integer({ min, max }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
// Payloads crossing the 1->2 and 2->3 byte remaining-length boundaries (127/128 and 16383/16384).
const payload = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 2, arbitrary: bytesOfLength(60, 200) },
  { weight: 1, arbitrary: bytesOfLength(16_250, 16_450) },
);

const arbitraries: Record<string, fc.Arbitrary<Packet>> = {
  connect: fc
    .record({
      clientId: mqttString(23),
      keepalive: fc.integer({ min: 0, max: 65535 }),
      clean: fc.boolean(),
      will: fc.option(fc.record({ topic: topicName, payload: fc.uint8Array({ maxLength: 40 }), qos, retain: fc.boolean() }), { nil: undefined }),
      username: fc.option(mqttString(), { nil: undefined }),
      password: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
    })
    .map((c): Packet => {
      const p: Packet = { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: c.clean || c.clientId === "", keepalive: c.keepalive, clientId: c.clientId };
      if (c.will) p.will = c.will;
      if (c.username !== undefined) {
        p.username = c.username;
        if (c.password !== undefined) p.password = c.password;
      }
      return p;
    }),
  connack: fc
    .record({ sessionPresent: fc.boolean(), returnCode: fc.constantFrom(0, 1, 2, 3, 4, 5) as fc.Arbitrary<0 | 1 | 2 | 3 | 4 | 5> })
    .map((c): Packet => ({ cmd: "connack", sessionPresent: c.returnCode === 0 && c.sessionPresent, returnCode: c.returnCode })),
  publish: fc
    .record({ topic: topicName, payload, qos, dup: fc.boolean(), retain: fc.boolean(), messageId: id })
    .map((c): Packet =>
      c.qos === 0
        ? { cmd: "publish", topic: c.topic, payload: c.payload, qos: 0, dup: false, retain: c.retain }
        : { cmd: "publish", topic: c.topic, payload: c.payload, qos: c.qos, dup: c.dup, retain: c.retain, messageId: c.messageId },
    ),
  puback: id.map((messageId): Packet => ({ cmd: "puback", messageId })),
  pubrec: id.map((messageId): Packet => ({ cmd: "pubrec", messageId })),
  pubrel: id.map((messageId): Packet => ({ cmd: "pubrel", messageId })),
  pubcomp: id.map((messageId): Packet => ({ cmd: "pubcomp", messageId })),
  unsuback: id.map((messageId): Packet => ({ cmd: "unsuback", messageId })),
  subscribe: fc
    .record({ messageId: id, subscriptions: fc.array(fc.record({ topic: topicFilter, qos }), { minLength: 1, maxLength: 8 }) })
    .map((c): Packet => ({ cmd: "subscribe", ...c })),
  suback: fc
    .record({ messageId: id, granted: fc.array(fc.constantFrom<0 | 1 | 2 | 0x80>(0, 1, 2, 0x80), { minLength: 1, maxLength: 8 }) })
    .map((c): Packet => ({ cmd: "suback", ...c })),
  unsubscribe: fc
    .record({ messageId: id, unsubscriptions: fc.array(topicFilter, { minLength: 1, maxLength: 8 }) })
    .map((c): Packet => ({ cmd: "unsubscribe", ...c })),
  pingreq: fc.constant<Packet>({ cmd: "pingreq" }),
  pingresp: fc.constant<Packet>({ cmd: "pingresp" }),
  disconnect: fc.constant<Packet>({ cmd: "disconnect" }),
};

const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b);

/** mqtt-packet's object for our packet (Buffers where it expects them). */
function toTheirs(p: Packet): mqttPacket.Packet {
  switch (p.cmd) {
    case "publish":
      return { ...p, payload: Buffer.from(p.payload) } as mqttPacket.Packet;
    case "connect":
      return {
        ...p,
        will: p.will ? { ...p.will, payload: Buffer.from(p.will.payload) } : undefined,
        password: p.password ? Buffer.from(p.password) : undefined,
      } as mqttPacket.Packet;
    default:
      return p as mqttPacket.Packet;
  }
}

/** Our shape of a packet mqtt-packet parsed: only our fields, Buffers as plain Uint8Arrays. */
function fromTheirs(t: Record<string, unknown>): Packet {
  const cmd = t.cmd as Packet["cmd"];
  switch (cmd) {
    case "publish": {
      const p: Record<string, unknown> = { cmd, topic: t.topic, payload: plain(t.payload as Uint8Array), qos: t.qos, dup: t.dup, retain: t.retain };
      if ((t.qos as number) > 0) p.messageId = t.messageId;
      return p as unknown as Packet;
    }
    case "connect": {
      const p: Record<string, unknown> = { cmd, protocolId: t.protocolId, protocolVersion: t.protocolVersion, clean: t.clean, keepalive: t.keepalive, clientId: t.clientId };
      const will = t.will as Record<string, unknown> | undefined;
      if (will) p.will = { topic: will.topic, payload: plain(will.payload as Uint8Array), qos: will.qos, retain: will.retain };
      if (t.username !== undefined) p.username = t.username;
      if (t.password !== undefined) p.password = plain(t.password as Uint8Array);
      return p as unknown as Packet;
    }
    case "connack":
      return { cmd, sessionPresent: t.sessionPresent as boolean, returnCode: t.returnCode as 0 };
    case "subscribe":
      return { cmd, messageId: t.messageId as number, subscriptions: (t.subscriptions as { topic: string; qos: QoS }[]).map(({ topic, qos }) => ({ topic, qos })) };
    case "suback":
      return { cmd, messageId: t.messageId as number, granted: t.granted as (0 | 1 | 2 | 0x80)[] };
    case "unsubscribe":
      return { cmd, messageId: t.messageId as number, unsubscriptions: t.unsubscriptions as string[] };
    case "pingreq":
    case "pingresp":
    case "disconnect":
      return { cmd };
    default:
      return { cmd, messageId: t.messageId as number } as Packet;
  }
}

function theirParse(bytes: Uint8Array): Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const out: Packet[] = [];
  let failure: Error | undefined;
  parser.on("packet", (p) => out.push(fromTheirs(p as unknown as Record<string, unknown>)));
  parser.on("error", (e) => (failure = e));
  parser.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (failure) throw failure;
  return out;
}

/** A deep copy in plain objects and plain Uint8Arrays (no views, no null prototypes), for deepStrictEqual. */
function detach<T>(value: T): T {
  if (value instanceof Uint8Array) return plain(value) as T;
  if (Array.isArray(value)) return value.map(detach) as T;
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = detach(v);
    return out as T;
  }
  return value;
}

const ourDecode = (bytes: Uint8Array): Packet[] => new Decoder({ maxPacketSize: 1 << 20 }).push(bytes).map(detach);

for (const [cmd, arbitrary] of Object.entries(arbitraries)) {
  test(`${cmd}: our bytes equal mqtt-packet's, and each side decodes the other's`, () => {
    fc.assert(
      fc.property(arbitrary, (packet) => {
        const ours = encode(packet);
        const theirs = mqttPacket.generate(toTheirs(packet));
        assert.deepEqual(Buffer.from(ours), theirs, "same bytes");
        assert.deepEqual(ourDecode(theirs), [detach(packet)], "we decode theirs");
        assert.deepEqual(theirParse(ours), [detach(packet)], "they decode ours");
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
}

test("streams of mixed packets split at random points decode to the same list as mqtt-packet's parse", () => {
  const anyPacket = fc.oneof(...Object.values(arbitraries));
  fc.assert(
    fc.property(fc.array(anyPacket, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (packets, cutSeeds) => {
      const parts = packets.map((p) => encode(p));
      const stream = Buffer.concat(parts);
      const cuts = [...new Set(cutSeeds.map((c) => c % stream.length))].sort((a, b) => a - b);
      const decoder = new Decoder({ maxPacketSize: 1 << 20 });
      const got: Packet[] = [];
      let from = 0;
      for (const cut of [...cuts, stream.length]) {
        got.push(...decoder.push(stream.subarray(from, cut)).map(detach));
        from = cut;
      }
      assert.deepEqual(got, packets.map(detach));
      assert.deepEqual(theirParse(stream), got);
      assert.equal(decoder.pendingBytes, 0);
    }),
    { seed: SEED, numRuns: 300 },
  );
});
