// Pieces the client tests on the Node lane's virtual clock share: a logger that keeps lines, a tap
// that decodes the control packets crossing the lane's TCP, and the reconnect schedule check.
import assert from "node:assert/strict";
import type { TcpLink } from "../../tools/sim/tcp-link.ts";
import { nodeLane } from "../../tools/sim/node-lane.ts";
import type { MqttClient } from "../../mqtt/client.ts";
import { Decoder } from "../../mqtt/decode.ts";
import type { Logger } from "../../lib/log.ts";
import { logTo } from "../portable/logger.ts";
import { until } from "./wait.ts";

/** A logger that appends `LEVEL area: message {fields}` lines to `lines`. */
export function lineLogger(lines: string[]): Logger {
  return logTo((level, area, message, fields) => lines.push(`${level} ${area}: ${message}${fields ? " " + JSON.stringify(fields) : ""}`));
}

/** Control packets on the wire, in order, as "out:pingreq" / "in:pingresp"... (clear `packets` freely). */
export class WireTap {
  packets: string[] = [];
  readonly #decoders = new Map<string, Decoder>();

  constructor(link: TcpLink) {
    link.onTraffic = (direction, id, bytes) => {
      const key = `${direction}${id}`;
      let d = this.#decoders.get(key);
      if (!d) this.#decoders.set(key, (d = new Decoder({ maxPacketSize: 1 << 20 })));
      for (const p of d.push(bytes.slice())) this.packets.push(`${direction}:${p.cmd}`);
    };
  }

  count(packet: string): number {
    return this.packets.filter((p) => p === packet).length;
  }
}

/**
 * With the lane's link refusing, checks that client `c` (already connecting, first attempt made at
 * `first` connects) retries exactly after each of `delays`, never a millisecond early.
 */
export async function assertRetrySchedule(c: MqttClient, logs: string[], first: number, delays: readonly number[]): Promise<void> {
  const attempts = () => nodeLane.link.stats.connects - first;
  const scheduled = (): number[] => logs.filter((l) => l.includes("reconnect scheduled")).map((l) => (JSON.parse(l.slice(l.indexOf("{"))) as { delay: number }).delay);
  assert.equal(attempts(), 1, "first attempt at once");
  await until(() => scheduled().length === 1, "the refusal (a microtask in the sim link) to schedule the retry");
  for (const [i, delay] of delays.entries()) {
    assert.equal(scheduled()[i], delay, `retry ${i + 1} scheduled after ${delay} ms`);
    await nodeLane.advance(delay - 1);
    assert.equal(attempts(), i + 1, `no attempt before ${delay} ms`);
    await nodeLane.advance(1);
    assert.equal(attempts(), i + 2, `attempt at ${delay} ms`);
    await until(() => scheduled().length === i + 2, `refusal ${i + 2} handled`);
  }
  assert.ok(c.session.state === "waiting" || c.session.state === "opening");
}
