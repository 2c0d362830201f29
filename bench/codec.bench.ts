// Node lane codec speed against mqtt-packet (the anchor), same inputs, same run. Target: ratio >= 1.5.
import mqttPacket from "mqtt-packet";
import { Encoder } from "../mqtt/encode.ts";
import { Decoder } from "../mqtt/decode.ts";
import type { PublishPacket } from "../mqtt/packets.ts";
import type { Report } from "./run.ts";
import { compare } from "./measure.ts";
import { installBoardNatives } from "../tools/sim/natives.ts";

// The codec uses the device's natives (ArrayBuffer.fromString, String.fromArrayBuffer,
// ArrayBuffer.prototype.concat); on Node they come from the simulator's natives, as in every test.
installBoardNatives(new TextEncoder(), new TextDecoder());

const TOPIC = "$sys/AbCdEf1234/device-001/thing/property/post";
const json = JSON.stringify({ id: "123", version: "1.0", params: { temp: { value: 23.6 }, humi: { value: 41.2 }, rssi: { value: -61 } } });
const PAYLOAD = new Uint8Array(120);
for (let i = 0; i < PAYLOAD.length; i++) PAYLOAD[i] = json.charCodeAt(i % json.length);

export default async function (report: Report): Promise<void> {
  const packet: PublishPacket = { cmd: "publish", topic: TOPIC, payload: PAYLOAD, qos: 1, dup: false, retain: false, messageId: 4242 };
  const theirPacket = { ...packet, payload: Buffer.from(PAYLOAD) } as mqttPacket.IPublishPacket;
  let sink = 0;
  // As the client encodes: one Encoder per connection, which keeps the checked topic's bytes.
  const encoder = new Encoder();

  const enc = compare(
    () => { sink += encoder.encode(packet).length; },
    () => { sink += mqttPacket.generate(theirPacket).length; },
  );
  report({ name: "codec.encode.publish", value: enc.ours, unit: "ops/s (higher is better)", anchor: "mqtt-packet generate", anchorValue: enc.anchor });

  const bytes = encoder.encode(packet);
  const buffer = Buffer.from(bytes);
  const decoder = new Decoder();
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on("packet", () => { sink++; });
  const dec = compare(
    () => { sink += decoder.push(bytes).length; },
    () => { parser.parse(buffer); },
  );
  report({ name: "codec.decode.publish", value: dec.ours, unit: "ops/s (higher is better)", anchor: "mqtt-packet parser", anchorValue: dec.anchor });

  // 64 PUBACKs per chunk, as a broker acknowledging a burst delivers them; counted per packet.
  const acks = new Uint8Array(64 * 4);
  for (let i = 0; i < 64; i++) acks.set(encoder.encode({ cmd: "puback", messageId: i + 1 }), i * 4);
  const ackBuffer = Buffer.from(acks);
  const ackDecoder = new Decoder();
  const ackParser = mqttPacket.parser({ protocolVersion: 4 });
  ackParser.on("packet", () => { sink++; });
  const ack = compare(
    () => { sink += ackDecoder.push(acks).length; },
    () => { ackParser.parse(ackBuffer); },
  );
  report({ name: "codec.decode.puback-stream", value: ack.ours * 64, unit: "packets/s (higher is better)", anchor: "mqtt-packet parser", anchorValue: ack.anchor * 64 });
  if (sink === 0) throw new Error("benchmark did no work");
}
