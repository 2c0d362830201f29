// What a device in the Node lane writes, as MQTT packets per connection: the simulator's TCP link
// hands the tap every outgoing byte, one decoder per connection puts them back together.
import { Decoder } from "../../mqtt/decode.ts";
import type { Packet } from "../../mqtt/packets.ts";
import { nodeLane } from "../../tools/sim/node-lane.ts";

/** Calls `onPacket` for each packet the device sends, with the connection it went on. */
export function tapOutgoing(onPacket: (conn: number, packet: Packet) => void): void {
  const decoders = new Map<number, Decoder>();
  nodeLane.link.onTraffic = (direction, conn, bytes) => {
    if (direction !== "out") return;
    let d = decoders.get(conn);
    if (!d) decoders.set(conn, (d = new Decoder()));
    for (const p of d.push(bytes.slice())) onPacket(conn, p);
  };
}
