// The codec's rules, pinned with byte vectors. Runs in Node and inside XS (no Node APIs here).
import { suite, assert } from "./harness";
import { encode, Encoder, encodedLength } from "../../mqtt/encode";
import { Decoder, DEFAULT_MAX_PACKET_SIZE } from "../../mqtt/decode";
import { ProtocolError } from "../../mqtt/validate";
import type { Packet, PacketInput } from "../../mqtt/packets";
import { utf8Decode, utf8Encode, utf8Length } from "../../lib/utf8";

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const ascii = (s: string): number[] => {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
  return out;
};
const str = (s: string): number[] => [s.length >> 8, s.length & 0xff, ...ascii(s)];

function decodeAll(input: Uint8Array, options?: { maxPacketSize?: number }): Packet[] {
  return new Decoder(options).push(input);
}

function refuses(input: Uint8Array, pattern: RegExp): void {
  assert.throws(() => decodeAll(input), ProtocolError, pattern);
}

function refusesToEncode(packet: unknown, pattern: RegExp): void {
  assert.throws(() => encode(packet as PacketInput), ProtocolError, pattern);
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const samples: PacketInput[] = [
  { cmd: "connect", clean: true, keepalive: 60, clientId: "dev1", username: "prod", password: bytes(1, 2, 3) },
  { cmd: "connect", clean: false, keepalive: 0, clientId: "", will: { topic: "a/b", payload: bytes(9), qos: 2, retain: true } },
  { cmd: "connack", sessionPresent: true, returnCode: 0 },
  { cmd: "connack", returnCode: 4 },
  { cmd: "publish", topic: "t/ü/雪", payload: bytes(1, 2), qos: 0 },
  { cmd: "publish", topic: "a", payload: bytes(), qos: 1, messageId: 65535, dup: true, retain: true },
  { cmd: "publish", topic: "a/b", payload: bytes(0, 255), qos: 2, messageId: 1 },
  { cmd: "puback", messageId: 1 },
  { cmd: "pubrec", messageId: 2 },
  { cmd: "pubrel", messageId: 3 },
  { cmd: "pubcomp", messageId: 4 },
  { cmd: "subscribe", messageId: 5, subscriptions: [{ topic: "$sys/p/d/thing/#", qos: 0 }, { topic: "+/x/+", qos: 2 }] },
  { cmd: "suback", messageId: 5, granted: [0, 1, 2, 0x80] },
  { cmd: "unsubscribe", messageId: 6, unsubscriptions: ["a/#", "#", "+"] },
  { cmd: "unsuback", messageId: 6 },
  { cmd: "pingreq" },
  { cmd: "pingresp" },
  { cmd: "disconnect" },
];

suite("codec vectors", (test) => {
  test("CONNECT bytes match the spec's example layout [MQTT-3.1.2]", () => {
    const out = encode({ cmd: "connect", clean: true, keepalive: 10, clientId: "c", username: "u", password: bytes(0x70) });
    assert.deepEqual(out, bytes(0x10, 19, ...str("MQTT"), 4, 0xc2, 0, 10, ...str("c"), ...str("u"), 0, 1, 0x70));
  });
  test("PUBLISH QoS 1 with DUP and RETAIN sets flags 0b1011 [MQTT-3.3.1]", () => {
    const out = encode({ cmd: "publish", topic: "a/b", payload: bytes(7), qos: 1, dup: true, retain: true, messageId: 10 });
    assert.deepEqual(out, bytes(0x3b, 8, ...str("a/b"), 0, 10, 7));
  });
  test("PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0b0010 [MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1]", () => {
    assert.equal(encode({ cmd: "pubrel", messageId: 1 })[0], 0x62);
    assert.equal(encode({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "a", qos: 0 }] })[0], 0x82);
    assert.equal(encode({ cmd: "unsubscribe", messageId: 1, unsubscriptions: ["a"] })[0], 0xa2);
  });
  test("remaining length uses 1..4 bytes at the 128 / 16384 / 2097152 boundaries [MQTT-2.2.3]", () => {
    const sizes: [number, number][] = [[127, 1], [128, 2], [16383, 2], [16384, 3], [2097151, 3], [2097152, 4]];
    for (const [remaining, lengthBytes] of sizes) {
      // topic "a" (3 bytes) + payload makes up `remaining`
      const out = encode({ cmd: "publish", topic: "a", payload: new Uint8Array(remaining - 3) });
      assert.equal(out.length, 1 + lengthBytes + remaining, `remaining ${remaining}`);
      const [packet] = decodeAll(out, { maxPacketSize: out.length });
      assert.ok(packet.cmd === "publish" && packet.payload.length === remaining - 3);
    }
  });
  test("every packet type round-trips and decodes with every field", () => {
    for (const input of samples) {
      const [packet] = decodeAll(encode(input));
      const expected: Record<string, unknown> = { ...input };
      if (input.cmd === "connect") {
        expected.protocolId = "MQTT";
        expected.protocolVersion = 4;
        expected.clean = input.clean === true;
        if (input.will) expected.will = { ...input.will, qos: input.will.qos ?? 0, retain: input.will.retain === true };
      }
      if (input.cmd === "connack") expected.sessionPresent = input.sessionPresent === true;
      if (input.cmd === "publish") {
        expected.qos = input.qos ?? 0;
        expected.dup = input.dup === true;
        expected.retain = input.retain === true;
      }
      assert.deepEqual(packet, expected, input.cmd);
    }
  });
  test("encode treats omitted booleans as false and omitted qos as 0", () => {
    const out = encode({ cmd: "publish", topic: "x", payload: bytes(1) });
    assert.deepEqual(out, bytes(0x30, 4, ...str("x"), 1));
    assert.equal(encode({ cmd: "connect", keepalive: 0, clientId: "a" })[9], 0x00);
  });
  test("encoded packets are exactly sized", () => {
    for (const input of samples) {
      const out = encode(input);
      assert.equal(out.byteLength, out.buffer.byteLength, input.cmd);
    }
  });
});

suite("codec streaming", (test) => {
  const stream = concat(...samples.map((p) => encode(p)));
  const whole = decodeAll(stream);
  test("many packets in one chunk decode in order", () => {
    assert.equal(whole.length, samples.length);
  });
  test("a split at every point decodes to the same list", () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const d = new Decoder();
      const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      assert.deepEqual(got, whole, `cut at ${cut}`);
      assert.equal(d.pendingBytes, 0);
    }
  });
  test("one byte at a time decodes to the same list", () => {
    const d = new Decoder();
    const got: Packet[] = [];
    for (let i = 0; i < stream.length; i++) got.push(...d.push(stream.subarray(i, i + 1)));
    assert.deepEqual(got, whole);
  });
  test("partial input is kept, not an error", () => {
    const d = new Decoder();
    assert.equal(d.push(bytes(0x30)).length, 0);
    assert.equal(d.push(bytes(0x80)).length, 0, "remaining length continues");
    assert.equal(d.pendingBytes, 2);
  });
  test("whole packets per chunk decode without copying: the payload is a view of the input", () => {
    const input = encode({ cmd: "publish", topic: "a", payload: bytes(1, 2, 3), qos: 1, messageId: 9 });
    const [packet] = decodeAll(input);
    assert.ok(packet.cmd === "publish" && packet.payload.buffer === input.buffer);
  });
  test("after a ProtocolError the decoder holds the valid packets that preceded it in the failed push", () => {
    const d = new Decoder();
    assert.deepEqual(d.push(encode({ cmd: "pingresp" })), [{ cmd: "pingresp" }]);
    assert.deepEqual(d.packetsBeforeError, [], "nothing while no push has failed");
    assert.throws(
      () => d.push(concat(encode({ cmd: "puback", messageId: 7 }), encode({ cmd: "pingresp" }), bytes(0x36, 2, 0, 0))),
      ProtocolError,
      /QoS 3/,
    );
    assert.deepEqual(d.packetsBeforeError, [{ cmd: "puback", messageId: 7 }, { cmd: "pingresp" }]);
    // Each decoder keeps its own: another stream failing does not touch this one's.
    const other = new Decoder();
    assert.throws(() => other.push(bytes(0x00, 0)), ProtocolError);
    assert.deepEqual(other.packetsBeforeError, []);
    assert.equal(d.packetsBeforeError.length, 2);
  });
  test("after a ProtocolError the decoder keeps refusing", () => {
    const d = new Decoder();
    assert.throws(() => d.push(bytes(0x00, 0x00)), ProtocolError);
    assert.throws(() => d.push(encode({ cmd: "pingreq" })), ProtocolError);
  });
});

suite("codec refuses", (test) => {
  test("reserved packet types 0 and 15 [MQTT-2.2.1]", () => {
    refuses(bytes(0x00, 0x00), /reserved packet type 0/);
    refuses(bytes(0xf0, 0x00), /reserved packet type 15/);
  });
  test("wrong fixed-header flags for each type [MQTT-2.2.2-2]", () => {
    refuses(bytes(0x60, 2, 0, 1), /PUBREL: fixed-header flags/);
    refuses(bytes(0x80, 6, 0, 1, 0, 1, 0x61, 0), /SUBSCRIBE: fixed-header flags/);
    refuses(bytes(0xa0, 5, 0, 1, 0, 1, 0x61), /UNSUBSCRIBE: fixed-header flags/);
    refuses(bytes(0x41, 2, 0, 1), /PUBACK: fixed-header flags/);
    refuses(bytes(0xc8, 0), /PINGREQ: fixed-header flags/);
    refuses(bytes(0x21, 2, 0, 0), /CONNACK: fixed-header flags/);
  });
  test("PUBLISH with QoS 3 [MQTT-3.3.1-4]", () => {
    refuses(bytes(0x36, 5, 0, 1, 0x61, 0, 1), /QoS 3/);
    refusesToEncode({ cmd: "publish", topic: "a", payload: bytes(), qos: 3, messageId: 1 }, /MQTT-3.3.1-4/);
  });
  test("PUBLISH QoS 0 with DUP set [MQTT-3.3.1-2]", () => {
    refuses(bytes(0x38, 3, 0, 1, 0x61), /MQTT-3.3.1-2/);
    refusesToEncode({ cmd: "publish", topic: "a", payload: bytes(), dup: true }, /MQTT-3.3.1-2/);
  });
  test("remaining length longer than four bytes [MQTT-2.2.3]", () => {
    refuses(bytes(0x30, 0xff, 0xff, 0xff, 0xff, 0x01), /longer than four bytes/);
  });
  test("a header announcing more than maxPacketSize is refused before the body arrives", () => {
    const d = new Decoder({ maxPacketSize: 100 });
    assert.throws(() => d.push(bytes(0x30, 0xe5, 0x00)), ProtocolError, /exceeds maxPacketSize 100/);
    assert.throws(() => new Decoder().push(bytes(0x30, 0xff, 0xff, 0x7f)), ProtocolError, new RegExp(`maxPacketSize ${DEFAULT_MAX_PACKET_SIZE}`));
  });
  test("lengths inside a packet that overrun it", () => {
    refuses(bytes(0x30, 3, 0, 5, 0x61), /overruns/);
    refuses(bytes(0x32, 3, 0, 1, 0x61), /truncated/);
    refuses(bytes(0x10, 12, ...str("MQTT"), 4, 0x02, 0, 10, 0, 9), /overruns|truncated/);
  });
  test("packet identifier 0 where one is required [MQTT-2.3.1-1]", () => {
    refuses(bytes(0x32, 5, 0, 1, 0x61, 0, 0), /MQTT-2.3.1-1/);
    refuses(bytes(0x40, 2, 0, 0), /MQTT-2.3.1-1/);
    refuses(bytes(0x82, 6, 0, 0, 0, 1, 0x61, 0), /MQTT-2.3.1-1/);
    refusesToEncode({ cmd: "puback", messageId: 0 }, /MQTT-2.3.1-1/);
    refusesToEncode({ cmd: "publish", topic: "a", payload: bytes(), qos: 1 }, /MQTT-2.3.1-1/);
    refusesToEncode({ cmd: "subscribe", messageId: 65536, subscriptions: [{ topic: "a", qos: 0 }] }, /MQTT-2.3.1-1/);
  });
  test("ill-formed UTF-8 and encoded surrogates in strings [MQTT-1.5.3-1]", () => {
    refuses(bytes(0x30, 4, 0, 2, 0xc3, 0x28), /MQTT-1.5.3-1/);
    refuses(bytes(0x30, 5, 0, 3, 0xed, 0xa0, 0x80), /surrogate.*MQTT-1.5.3-1/);
    refuses(bytes(0x30, 4, 0, 2, 0xc0, 0xaf), /MQTT-1.5.3-1/); // overlong '/'
    refusesToEncode({ cmd: "publish", topic: "a\ud800", payload: bytes() }, /MQTT-1.5.3-1/);
  });
  test("U+0000 in strings [MQTT-1.5.3-2]", () => {
    refuses(bytes(0x30, 5, 0, 3, 0x61, 0x00, 0x62), /MQTT-1.5.3-2/);
    refusesToEncode({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "a\u0000", qos: 0 }] }, /MQTT-1.5.3-2/);
  });
  test("empty topic names and wildcards in PUBLISH topic names [MQTT-4.7.3-1, MQTT-3.3.2-2]", () => {
    refuses(bytes(0x30, 2, 0, 0), /empty/);
    refuses(bytes(0x30, 5, 0, 3, 0x61, 0x2f, 0x23), /MQTT-3.3.2-2/);
    refuses(bytes(0x30, 3, 0, 1, 0x2b), /MQTT-3.3.2-2/);
    refusesToEncode({ cmd: "publish", topic: "", payload: bytes() }, /empty/);
    refusesToEncode({ cmd: "publish", topic: "a/+", payload: bytes() }, /MQTT-3.3.2-2/);
  });
  test("SUBSCRIBE and UNSUBSCRIBE with no entries [MQTT-3.8.3-3, MQTT-3.10.3-2]", () => {
    refuses(bytes(0x82, 2, 0, 1), /MQTT-3.8.3-3/);
    refuses(bytes(0xa2, 2, 0, 1), /MQTT-3.10.3-2/);
    refusesToEncode({ cmd: "subscribe", messageId: 1, subscriptions: [] }, /MQTT-3.8.3-3/);
    refusesToEncode({ cmd: "unsubscribe", messageId: 1, unsubscriptions: [] }, /MQTT-3.10.3-2/);
  });
  test("SUBSCRIBE requested QoS above 2 or reserved bits set [MQTT-3.8.3-4]", () => {
    refuses(bytes(0x82, 6, 0, 1, 0, 1, 0x61, 3), /MQTT-3.8.3-4/);
    refuses(bytes(0x82, 6, 0, 1, 0, 1, 0x61, 0x04), /MQTT-3.8.3-4/);
    refusesToEncode({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "a", qos: 3 }] }, /QoS/);
  });
  test("malformed topic filters [MQTT-4.7.1-2, MQTT-4.7.1-3]", () => {
    refuses(bytes(0x82, 7, 0, 1, 0, 2, 0x23, 0x61, 0), /MQTT-4.7.1-2/);
    refuses(bytes(0x82, 7, 0, 1, 0, 2, 0x61, 0x2b, 0), /MQTT-4.7.1-3/);
    refusesToEncode({ cmd: "unsubscribe", messageId: 1, unsubscriptions: ["a#"] }, /MQTT-4.7.1-2/);
  });
  test("CONNECT protocol name and level [MQTT-3.1.2-1, MQTT-3.1.2-2]", () => {
    refuses(bytes(0x10, 12, ...str("MQTX"), 4, 0x02, 0, 10, 0, 0), /MQTT-3.1.2-1/);
    refuses(bytes(0x10, 12, ...str("MQTT"), 3, 0x02, 0, 10, 0, 0), /MQTT-3.1.2-2/);
  });
  test("CONNECT reserved flag [MQTT-3.1.2-3]", () => {
    refuses(bytes(0x10, 12, ...str("MQTT"), 4, 0x03, 0, 10, 0, 0), /MQTT-3.1.2-3/);
  });
  test("CONNECT will QoS or retain without a will, will QoS 3 [MQTT-3.1.2-11/13/14/15]", () => {
    refuses(bytes(0x10, 12, ...str("MQTT"), 4, 0x0a, 0, 10, 0, 0), /MQTT-3.1.2-13/);
    refuses(bytes(0x10, 12, ...str("MQTT"), 4, 0x22, 0, 10, 0, 0), /MQTT-3.1.2-15/);
    refuses(bytes(0x10, 17, ...str("MQTT"), 4, 0x1e, 0, 10, 0, 0, ...str("a"), 0, 0), /MQTT-3.1.2-14/);
  });
  test("CONNECT password without username [MQTT-3.1.2-22]", () => {
    refuses(bytes(0x10, 14, ...str("MQTT"), 4, 0x42, 0, 10, 0, 0, 0, 0), /MQTT-3.1.2-22/);
    refusesToEncode({ cmd: "connect", keepalive: 1, clientId: "a", password: bytes(1) }, /MQTT-3.1.2-22/);
  });
  test("CONNECT with bytes after the last field", () => {
    refuses(bytes(0x10, 13, ...str("MQTT"), 4, 0x02, 0, 10, 0, 0, 0x99), /unexpected bytes/);
  });
  test("CONNACK reserved flags, reserved return codes, session present with refusal [MQTT-3.2.2-4]", () => {
    refuses(bytes(0x20, 2, 0x02, 0), /reserved acknowledge flags/);
    refuses(bytes(0x20, 2, 0x00, 6), /return code 6 is reserved/);
    refuses(bytes(0x20, 2, 0x01, 5), /MQTT-3.2.2-4/);
    refusesToEncode({ cmd: "connack", returnCode: 6 }, /reserved/);
    refusesToEncode({ cmd: "connack", sessionPresent: true, returnCode: 5 }, /MQTT-3.2.2-4/);
  });
  test("SUBACK reserved return codes and empty SUBACK [MQTT-3.9.3-2]", () => {
    refuses(bytes(0x90, 3, 0, 1, 3), /MQTT-3.9.3-2/);
    refuses(bytes(0x90, 2, 0, 1), /no return codes/);
    refusesToEncode({ cmd: "suback", messageId: 1, granted: [0x81] }, /MQTT-3.9.3-2/);
  });
  test("exact lengths of fixed-size packets", () => {
    refuses(bytes(0x40, 3, 0, 1, 0), /PUBACK: remaining length must be 2/);
    refuses(bytes(0x20, 3, 0, 0, 0), /CONNACK: remaining length must be 2/);
    refuses(bytes(0xc0, 1, 0), /PINGREQ: remaining length must be 0/);
    refuses(bytes(0xe0, 1, 0), /DISCONNECT: remaining length must be 0/);
    refuses(bytes(0xb0, 1, 0), /UNSUBACK: remaining length must be 2/);
  });
  test("strings over 65535 bytes and a keepalive out of range", () => {
    let long = "a";
    while (long.length < 65536) long += long;
    refusesToEncode({ cmd: "publish", topic: long, payload: bytes() }, /65535/);
    refusesToEncode({ cmd: "connect", keepalive: 65536, clientId: "a" }, /keepalive/);
  });
});

suite("utf8", (test) => {
  test("encodes and decodes 1- to 4-byte sequences", () => {
    const s = "a\u00e9\u96ea\ud83d\ude00";
    const b = utf8Encode(s);
    assert.deepEqual(b, bytes(0x61, 0xc3, 0xa9, 0xe9, 0x9b, 0xaa, 0xf0, 0x9f, 0x98, 0x80));
    assert.equal(utf8Length(s), 10);
    assert.equal(utf8Decode(b), s);
  });
  test("lone surrogates cannot be encoded; truncated and out-of-range sequences cannot be decoded", () => {
    assert.equal(utf8Length("\udc00"), -1);
    assert.throws(() => utf8Encode("x\ud800"), RangeError);
    assert.throws(() => utf8Decode(bytes(0xe9, 0x9b)), RangeError, /truncated/);
    assert.throws(() => utf8Decode(bytes(0xf4, 0x90, 0x80, 0x80)), RangeError, /out of range/);
    assert.throws(() => utf8Decode(bytes(0xff)), RangeError);
  });
  test("long strings decode across the internal chunk boundary", () => {
    let s = "";
    for (let i = 0; i < 3000; i++) s += i % 3 === 0 ? "\u96ea" : i % 3 === 1 ? "\ud83d\ude00" : "z";
    assert.equal(utf8Decode(utf8Encode(s)), s);
  });
});

suite("utf8 replace mode", (test) => {
  test("each byte that starts no well-formed sequence becomes U+FFFD; good sequences around it survive", () => {
    assert.equal(utf8Decode(bytes(0x61, 0xff, 0x62), 0, 3, true), "a\ufffdb");
    assert.equal(utf8Decode(bytes(0xe9, 0x9b), 0, 2, true), "\ufffd\ufffd");
    assert.equal(utf8Decode(bytes(0xed, 0xa0, 0x80, 0x7a), 0, 4, true), "\ufffd\ufffd\ufffdz");
    assert.equal(utf8Decode(bytes(0xf0, 0x9f, 0x98, 0x80), 0, 4, true), "\ud83d\ude00");
  });
  test("without replace the same inputs throw, naming the reason", () => {
    assert.throws(() => utf8Decode(bytes(0xc0, 0xaf)), RangeError, /overlong/);
    assert.throws(() => utf8Decode(bytes(0xed, 0xa0, 0x80)), RangeError, /surrogate/);
  });
});

suite("codec state", (test) => {
  test("an Encoder gives the bytes encode gives, cached topic or not, and keeps its topic cache to itself", () => {
    const a = new Encoder();
    const b = new Encoder();
    for (let round = 0; round < 2; round++) {
      for (const input of samples) assert.deepEqual(a.encode(input), encode(input), `${input.cmd} round ${round}`);
    }
    const publish: PacketInput = { cmd: "publish", topic: "t/1", payload: bytes(5), qos: 1, messageId: 3 };
    assert.deepEqual(a.encode(publish), b.encode(publish));
    // More distinct topics than the cache holds: still right, and the cache starts again.
    for (let i = 0; i < 40; i++) {
      const p: PacketInput = { cmd: "publish", topic: `t/${i}`, payload: bytes(i) };
      assert.deepEqual(a.encode(p), encode(p), `topic t/${i}`);
    }
  });
  test("an Encoder refuses a bad topic every time, not only before it is cached [MQTT-3.3.2-2]", () => {
    const e = new Encoder();
    for (let i = 0; i < 2; i++) {
      assert.throws(() => e.encode({ cmd: "publish", topic: "a/#", payload: bytes() }), ProtocolError, /MQTT-3.3.2-2/);
    }
  });
  test("encodedLength is the size encode produces, for every packet type", () => {
    for (const input of samples) {
      const [packet] = decodeAll(encode(input));
      assert.equal(encodedLength(packet), encode(input).length, input.cmd);
    }
    const big: PacketInput = { cmd: "publish", topic: "雪", payload: new Uint8Array(20_000), qos: 1, messageId: 1 };
    const [packet] = decodeAll(encode(big), { maxPacketSize: 1 << 20 });
    assert.equal(encodedLength(packet), encode(big).length);
  });
  test("a topic of more than 64 non-ASCII characters decodes whole, split across pushes or not [MQTT-1.5.3]", () => {
    const long = "ü".repeat(100) + "雪".repeat(50); // over the 64-unit chunk utf8Decode builds strings in
    const wire = encode({ cmd: "publish", topic: long, payload: bytes(1) });
    const split = new Decoder();
    assert.equal(split.push(wire.subarray(0, 50)).length, 0);
    const [a] = split.push(wire.subarray(50));
    const [b] = new Decoder().push(wire);
    assert.ok(a.cmd === "publish" && b.cmd === "publish");
    assert.equal(a.topic, long);
    assert.equal(b.topic, long);
  });
});
