// Computrons (xsnap's deterministic metering of the real XS engine) per MQTT PUBLISH encode and decode
// with our codec (mqtt/encode.ts, mqtt/decode.ts) running inside XS: the OneNET property-post topic
// (46 chars), a 120-byte JSON payload, QoS 1. Target: <= 1000 computrons each. Deterministic: the
// figures do not depend on machine load. Per-op cost = (crank running the op K times - crank running
// an empty loop K times) / K, so the crank's fixed overhead is not counted. Anchor: the cost of
// copying the 120-byte payload into a new Uint8Array in the same engine (a floor any encoder pays).
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
    import { utf8Encode } from "./lib/utf8";
    const payload = utf8Encode(${JSON.stringify(json)});
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
      wireLength: wire.length,
    };
  `;
  const lane = await XsLane.start({ entryCode, boot: false });
  try {
    const crank = async (name: string, k: number): Promise<number> =>
      (await lane.evaluate(`globalThis.__sim.entry.${name}(${k})`)).compute;
    // Warm up (first calls allocate caches), then measure.
    for (const name of ["empty", "encode", "decode", "copy"]) await crank(name, 3);
    const empty = await crank("empty", K);
    const perOp = async (name: string): Promise<number> => Math.round(((await crank(name, K)) - empty) / K);
    const copy = await perOp("copy");
    const encodeCost = await perOp("encode");
    const decodeCost = await perOp("decode");
    const anchor = "xs.copy.payload120 (computrons/op)";
    report({ name: "xs.codec.encode.publish", value: encodeCost, unit: "computrons/op (lower is better; target <= 1000)", anchor, anchorValue: copy });
    report({ name: "xs.codec.decode.publish", value: decodeCost, unit: "computrons/op (lower is better; target <= 1000)", anchor, anchorValue: copy });
  } finally {
    await lane.close();
  }
}
