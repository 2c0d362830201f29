// Computrons (xsnap's deterministic metering of the real XS engine) per MQTT PUBLISH encode and decode
// with our codec (mqtt/encode.ts, mqtt/decode.ts) running inside XS: the OneNET property-post topic
// (46 chars), a 120-byte JSON payload, QoS 1. Target: <= 600 computrons each. Deterministic: the
// figures do not depend on machine load. Per-op cost = (crank running the op K times - crank running
// an empty loop K times) / K, so the crank's fixed overhead is not counted. Anchor: the cost of
// copying the 120-byte payload into a new Uint8Array in the same engine (Uint8Array.prototype.slice,
// which xsnap meters at about 2 computrons a byte; ArrayBuffer.prototype.concat and .slice, which the
// codec uses, are metered by the call: all are a memcpy on the board).
// - xs.utf8.encode.topic46 / xs.utf8.decode.topic46: the device's native string <-> UTF-8
//   (ArrayBuffer.fromString, String.fromArrayBuffer; in the XS lane thin wrappers around xsnap's
//   TextEncoder/TextDecoder) against our JavaScript UTF-8 loops in lib/utf8.ts as the anchor.
import { XsLane } from "../tools/sim/xs-lane.ts";
import type { Report } from "./run.ts";

export const TOPIC = "$sys/AbCdEf1234/device-001/thing/property/post";

/** A 120-byte OneJSON property post. */
export function payload120(): string {
  const base = '{"id":"1","version":"1.0","params":{"temp":{"value":23.5},"humi":{"value":45.2},"rssi":{"value":-61}},"x":""}';
  const pad = 120 - base.length;
  if (pad < 0) throw new Error("payload base too long");
  return base.replace('"x":""', `"x":"${"0".repeat(pad)}"`);
}

const K = 200;

export default async function bench(report: Report): Promise<void> {
  if (TOPIC.length !== 46) throw new Error("topic must be 46 characters");
  const json = payload120();
  if (json.length !== 120) throw new Error("payload must be 120 bytes");
  const entryCode = `
    import { Encoder } from "./mqtt/encode";
    import { Decoder } from "./mqtt/decode";
    import { utf8Encode, utf8Decode } from "./lib/utf8";
    const payload = utf8Encode(${JSON.stringify(json)});
    const topic = ${JSON.stringify(TOPIC)};
    const topicBytes = utf8Encode(topic);
    const topicBuffer = topicBytes.buffer;
    const units = [];
    const packet = { cmd: "publish", topic: ${JSON.stringify(TOPIC)}, payload, qos: 1, messageId: 1 };
    // As the client encodes: one Encoder per connection, which keeps the checked topic's bytes.
    const encoder = new Encoder();
    const wire = encoder.encode(packet);
    const decoder = new Decoder();
    let sink = 0;
    globalThis.__sim.entry = {
      empty(k) { for (let i = 0; i < k; i++) sink += i; },
      encode(k) { for (let i = 0; i < k; i++) sink += encoder.encode(packet).length; },
      decode(k) { for (let i = 0; i < k; i++) sink += decoder.push(wire).length; },
      copy(k) { for (let i = 0; i < k; i++) sink += payload.slice().length; },
      nativeEncode(k) { for (let i = 0; i < k; i++) sink += new Uint8Array(ArrayBuffer.fromString(topic)).length; },
      jsEncode(k) { for (let i = 0; i < k; i++) sink += utf8Encode(topic).length; },
      nativeDecode(k) { for (let i = 0; i < k; i++) sink += String.fromArrayBuffer(topicBuffer).length; },
      jsDecode(k) { for (let i = 0; i < k; i++) sink += utf8Decode(topicBytes, 0, topicBytes.length, false, units).length; },
      wireLength: wire.length,
    };
  `;
  const lane = await XsLane.start({ entryCode, boot: false });
  try {
    const crank = async (name: string, k: number): Promise<number> =>
      (await lane.evaluate(`globalThis.__sim.entry.${name}(${k})`)).compute;
    // Warm up (first calls allocate caches), then measure.
    for (const name of ["empty", "encode", "decode", "copy", "nativeEncode", "jsEncode", "nativeDecode", "jsDecode"]) await crank(name, 3);
    const empty = await crank("empty", K);
    const perOp = async (name: string): Promise<number> => Math.round(((await crank(name, K)) - empty) / K);
    const copy = await perOp("copy");
    const encodeCost = await perOp("encode");
    const decodeCost = await perOp("decode");
    const anchor = "xs.copy.payload120 (computrons/op)";
    report({ name: "xs.codec.encode.publish", value: encodeCost, unit: "computrons/op (lower is better; target <= 600)", anchor, anchorValue: copy });
    report({ name: "xs.codec.decode.publish", value: decodeCost, unit: "computrons/op (lower is better; target <= 600)", anchor, anchorValue: copy });
    const unit = "computrons/op (lower is better)";
    report({ name: "xs.utf8.encode.topic46", value: await perOp("nativeEncode"), unit, anchor: "lib/utf8 utf8Encode (JS loop)", anchorValue: await perOp("jsEncode") });
    report({ name: "xs.utf8.decode.topic46", value: await perOp("nativeDecode"), unit, anchor: "lib/utf8 utf8Decode (JS loop)", anchorValue: await perOp("jsDecode") });
  } finally {
    await lane.close();
  }
}
