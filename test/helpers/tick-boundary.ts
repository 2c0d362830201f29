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
import { startMosquitto, type Mosquitto } from "./mosquitto.ts";
import { until } from "./wait.ts";
import { WireTap, assertRetrySchedule, lineLogger } from "./virtual-client.ts";

/** `start`: the tick the board starts at; `name`: the boundary; `crossed`: checks Time.ticks after it. */
export function tickBoundaryTests(start: number, name: string, crossed: (ticks: number) => boolean): void {
  let broker: Mosquitto;
  let tap: WireTap;
  const clients: MqttClient[] = [];

  before(async () => {
    broker = await startMosquitto();
    tap = new WireTap(nodeLane.link);
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
      log: lineLogger(logs),
      ...options,
    });
    clients.push(c);
    return c;
  }

  test(`keepalive across the ${name}: a PINGREQ every keepalive seconds, no dead-link verdict [MQTT-3.1.2-23]`, async () => {
    nodeLane.useVirtualClock();
    assert.equal(Time.ticks, start | 0, "the board starts at the configured tick");
    tap.packets = [];
    const logs: string[] = [];
    const c = client({ keepalive: 10 }, logs);
    c.connect();
    await until(() => c.connected, "CONNACK");
    for (let round = 1; round <= 3; round++) {
      await nodeLane.advance(9999);
      assert.equal(tap.count("out:pingreq"), round - 1, `no PINGREQ ${round} before ${round * 10} s`);
      await nodeLane.advance(1);
      assert.equal(tap.count("out:pingreq"), round, `PINGREQ ${round} at ${round * 10} s`);
      await until(() => tap.count("in:pingresp") === round, `PINGRESP ${round}`);
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
    c.connect();
    // Nominal 1, 2, 4, 8, 8 s at 3/4: retries at 0.75, 2.25, 5.25, 11.25, 17.25 s after boot.
    await assertRetrySchedule(c, logs, first, [750, 1500, 3000, 6000, 6000]);
    assert.ok(crossed(Time.ticks), `the run crossed the ${name}: ticks now ${Time.ticks}`);
    nodeLane.link.refuse(false);
    await nodeLane.advance(6000);
    await until(() => c.connected, "connected once the link accepts");
    c.end();
  });
}
