// The client across the board's tick boundaries, on the Node lane's virtual clock: Time.ticks is the
// ESP32's millisecond counter in a signed 32-bit integer (tools/sim/modules/time.ts), started by the
// sim-only `ticks=<n>` setting a few seconds before the boundary under test. Every test starts a
// fresh virtual clock at 0, so each starts at that same tick. A test file sets the config before
// anything reads Time.ticks (the shim reads the start once per process) and calls this.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { nodeLane } from "../../tools/sim/node-lane.ts";
import Time from "../../tools/sim/modules/time.ts";
import { MqttClient, type ClientOptions } from "../../mqtt/client.ts";
import { Decoder } from "../../mqtt/decode.ts";
import { startMosquitto, type Mosquitto } from "./mosquitto.ts";
import { until } from "./wait.ts";
import { logTo } from "../portable/logger.ts";

/** `start`: the tick the board starts at; `name`: the boundary; `crossed`: checks Time.ticks after it. */
export function tickBoundaryTests(start: number, name: string, crossed: (ticks: number) => boolean): void {
  let broker: Mosquitto;
  const clients: MqttClient[] = [];
  let wire: string[] = [];
  const decoders = new Map<string, Decoder>();

  before(async () => {
    broker = await startMosquitto();
    nodeLane.link.onTraffic = (direction, id, bytes) => {
      const key = `${direction}${id}`;
      let d = decoders.get(key);
      if (!d) decoders.set(key, (d = new Decoder({ maxPacketSize: 1 << 20 })));
      for (const p of d.push(bytes.slice())) wire.push(`${direction}:${p.cmd}`);
    };
  });

  after(async () => {
    for (const c of clients) c.end();
    await broker.close();
    nodeLane.shutdown();
  });

  function client(options: Partial<ClientOptions>, logs: string[]): MqttClient {
    const c = new MqttClient({
      host: "127.0.0.1",
      port: broker.port,
      clientId: `tick-${clients.length}`,
      random: () => 0.5, // jitter pinned: each delay is 3/4 of its nominal value
      log: logTo((level, area, message, fields) => logs.push(`${level} ${area}: ${message}${fields ? " " + JSON.stringify(fields) : ""}`)),
      ...options,
    });
    clients.push(c);
    return c;
  }

  test(`keepalive across the ${name}: a PINGREQ every keepalive seconds, no dead-link verdict [MQTT-3.1.2-23]`, async () => {
    nodeLane.useVirtualClock();
    assert.equal(Time.ticks, start | 0, "the board starts at the configured tick");
    wire = [];
    const logs: string[] = [];
    const c = client({ keepalive: 10 }, logs);
    c.connect();
    await until(() => c.connected, "CONNACK");
    for (let round = 1; round <= 3; round++) {
      await nodeLane.advance(9999);
      assert.equal(wire.filter((w) => w === "out:pingreq").length, round - 1, `no PINGREQ ${round} before ${round * 10} s`);
      await nodeLane.advance(1);
      assert.equal(wire.filter((w) => w === "out:pingreq").length, round, `PINGREQ ${round} at ${round * 10} s`);
      await until(() => wire.filter((w) => w === "in:pingresp").length === round, `PINGRESP ${round}`);
    }
    assert.ok(crossed(Time.ticks), `the run crossed the ${name}: ticks now ${Time.ticks}`);
    assert.ok(c.connected, logs.join("\n"));
    assert.ok(!logs.some((l) => l.includes("keepalive timeout")), logs.join("\n"));
    c.end();
  });

  test(`reconnect backoff across the ${name}: 1 s doubling to the cap, each retry exactly on time`, async () => {
    nodeLane.useVirtualClock();
    const logs: string[] = [];
    nodeLane.link.refuse(true);
    const c = client({ reconnectMin: 1000, reconnectMax: 8000 }, logs);
    const first = nodeLane.link.stats.connects;
    const attempts = () => nodeLane.link.stats.connects - first;
    const scheduled = () => logs.filter((l) => l.includes("reconnect scheduled")).length;
    c.connect();
    assert.equal(attempts(), 1);
    await until(() => scheduled() === 1, "the first refusal handled");
    // Nominal 1, 2, 4, 8, 8 s at 3/4: retries at 0.75, 2.25, 5.25, 11.25, 17.25 s after boot.
    for (const [i, delay] of [750, 1500, 3000, 6000, 6000].entries()) {
      await nodeLane.advance(delay - 1);
      assert.equal(attempts(), i + 1, `no retry ${i + 1} before ${delay} ms`);
      await nodeLane.advance(1);
      assert.equal(attempts(), i + 2, `retry ${i + 1} at ${delay} ms`);
      await until(() => scheduled() === i + 2, `refusal ${i + 2} handled`);
    }
    assert.ok(crossed(Time.ticks), `the run crossed the ${name}: ticks now ${Time.ticks}`);
    nodeLane.link.refuse(false);
    await nodeLane.advance(6000);
    await until(() => c.connected, "connected once the link accepts");
    c.end();
  });
}
