// The Wi-Fi connection manager (drivers/wifi.ts) against the simulated access point behind the `wifi`
// and `net` shims, on the Node lane's virtual clock. Pins the behaviour the firmware depends on:
// join, report up/down, survive disconnects and lostIP, back off, never log the password.
// Event semantics follow the SDK's ESP32 port (modules/network/wifi/esp32/xs6wifi.c): "connect",
// "gotIP", "disconnect" with reason -1 for a rejected password; no rejoin by the port itself.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { setWorld, World } from "../tools/sim/devices/world.ts";
import WiFiManager from "../drivers/wifi.ts";
import WiFi from "../tools/sim/modules/wifi.ts";
import Net from "../tools/sim/modules/net.ts";
import { Log } from "../lib/log.ts";

const PASSWORD = "s3cret-wifi-pass";

function fresh(options: { password?: string } = {}): World {
  nodeLane.useVirtualClock();
  nodeLane.log.lines.length = 0;
  nodeLane.events.length = 0;
  const w = new World({ ticks: () => nodeLane.host.ticks(), epoch: () => nodeLane.host.epoch(), sensors: "none", ssid: "lab", password: options.password ?? PASSWORD });
  setWorld(w);
  return w;
}

let current: WiFiManager | undefined;
function manager(options: Partial<ConstructorParameters<typeof WiFiManager>[0]> = {}): { m: WiFiManager; changes: boolean[] } {
  const changes: boolean[] = [];
  const m = new WiFiManager({ ssid: "lab", password: PASSWORD, log: new Log(), onChange: (up) => changes.push(up), ...options });
  current = m;
  return { m, changes };
}

afterEach(() => {
  current?.stop();
  current = undefined;
  for (const line of nodeLane.log.lines) assert.ok(!line.includes(PASSWORD), `password leaked into the log: ${line}`);
});

test("joins: connect, gotIP, reports up once, exposes IP and RSSI", async () => {
  fresh();
  const { m, changes } = manager();
  m.start();
  assert.equal(m.status, "connecting");
  assert.equal(m.up, false);
  await nodeLane.advance(1000);
  assert.equal(m.status, "up");
  assert.deepEqual(changes, [true]);
  assert.equal(m.ip, "192.168.4.2");
  const rssi = m.rssi;
  assert.ok(rssi !== undefined && rssi <= -55 && rssi >= -61, `rssi ${rssi}`);
  assert.deepEqual(
    nodeLane.events.filter((e) => e.topic === "wifi").map((e) => e.detail),
    ["connect", "gotIP"],
  );
  assert.equal(m.attempts, 1);
});

test("access point down: manager reports down, retries with backoff, reports up when it returns", async () => {
  const w = fresh();
  const { m, changes } = manager();
  m.start();
  await nodeLane.advance(1000);
  assert.deepEqual(changes, [true]);
  nodeLane.control("wifi.ap", "down");
  await nodeLane.advance(w.accessPoint.beaconLossMs + 10);
  assert.deepEqual(changes, [true, false]);
  assert.equal(m.up, false);
  assert.equal(m.ip, undefined);
  assert.equal(m.rssi, undefined);
  assert.equal(Net.get("IP"), undefined);
  // While down: attempts keep coming, spaced by a growing delay (1 s, 2 s, 4 s ... ±20 %).
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const before = m.attempts;
    while (m.attempts === before) await nodeLane.advance(100);
    delays.push(m.lastRetryDelay);
  }
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i] > delays[i - 1] * 1.3, `backoff not growing: ${delays}`);
  assert.deepEqual(changes, [true, false], "no spurious up/down while the AP is away");
  nodeLane.control("wifi.ap", "up");
  await nodeLane.advance(90_000);
  assert.deepEqual(changes, [true, false, true]);
  assert.equal(m.downs, 1);
  assert.equal(m.ip, "192.168.4.2");
});

test("a blip shorter than the beacon-loss time does not drop the link", async () => {
  const w = fresh();
  const { m, changes } = manager();
  m.start();
  await nodeLane.advance(1000);
  nodeLane.control("wifi.ap", "down");
  await nodeLane.advance(w.accessPoint.beaconLossMs / 2);
  nodeLane.control("wifi.ap", "up");
  await nodeLane.advance(10_000);
  assert.deepEqual(changes, [true]);
  assert.equal(m.attempts, 1);
});

test("backoff is capped at maxBackoff and resets after a successful join", async () => {
  fresh();
  const { m } = manager({ minBackoff: 500, maxBackoff: 4000, jitter: 0 });
  nodeLane.control("wifi.ap", "down");
  m.start();
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    const before = m.attempts;
    while (m.attempts === before) await nodeLane.advance(100);
    delays.push(m.lastRetryDelay);
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 4000, 4000, 4000]);
  nodeLane.control("wifi.ap", "up");
  while (!m.up) await nodeLane.advance(500);
  nodeLane.control("wifi.ap", "down");
  const before = m.attempts;
  while (m.attempts === before) await nodeLane.advance(100);
  assert.equal(m.lastRetryDelay, 500, "first retry after an outage starts from minBackoff again");
});

/** The first `n` retry delays of a board whose join keeps failing (AP down). */
async function retryDelays(mac: string, n: number, options: Partial<ConstructorParameters<typeof WiFiManager>[0]> = {}): Promise<number[]> {
  const w = fresh();
  w.accessPoint.stationMAC = mac;
  const { m } = manager(options);
  nodeLane.control("wifi.ap", "down");
  m.start();
  const delays: number[] = [];
  for (let i = 0; i < n; i++) {
    const before = m.attempts;
    while (m.attempts === before) await nodeLane.advance(100);
    delays.push(m.lastRetryDelay);
  }
  m.stop();
  return delays;
}

test("jitter is seeded per device: boards that lost the same access point do not retry in step", async () => {
  const random = Math.random;
  try {
    // Two boards whose random generators happen to start alike: the MAC still tells them apart.
    Math.random = () => 0.5;
    const a = await retryDelays("a4:cf:12:00:00:01", 5);
    const b = await retryDelays("a4:cf:12:00:00:02", 5);
    assert.notDeepEqual(a, b, `same delays for two MACs: ${a}`);
  } finally {
    Math.random = random;
  }
  // Same MAC (e.g. the same board rebooted): the random generator tells the boots apart.
  const first = await retryDelays("a4:cf:12:00:00:01", 5);
  const second = await retryDelays("a4:cf:12:00:00:01", 5);
  assert.notDeepEqual(first, second, `same delays across boots: ${first}`);
  // An explicit seed still reproduces a run.
  assert.deepEqual(await retryDelays("a4:cf:12:00:00:01", 5, { seed: 42 }), await retryDelays("a4:cf:12:00:00:09", 5, { seed: 42 }));
});

test("wrong password: disconnect reason -1 is logged as rejected (without the password) and retried", async () => {
  fresh({ password: "another-password" });
  const { m, changes } = manager();
  m.start();
  await nodeLane.advance(30_000);
  assert.deepEqual(changes, []);
  assert.ok(m.attempts >= 3, `attempts ${m.attempts}`);
  assert.ok(nodeLane.events.some((e) => e.detail === "disconnect -1"));
  assert.ok(nodeLane.log.lines.some((l) => l.includes("WARN wifi: password rejected")), nodeLane.log.lines.join("\n"));
  nodeLane.control("wifi.ap", `password ${PASSWORD}`);
  await nodeLane.advance(60_000);
  assert.deepEqual(changes, [true]);
});

test("lostIP: reported down, and up again when DHCP renews, without a rejoin", async () => {
  fresh();
  const { m, changes } = manager();
  m.start();
  await nodeLane.advance(1000);
  const attempts = m.attempts;
  nodeLane.control("wifi.ap", "lose-ip");
  assert.deepEqual(changes, [true, false]);
  assert.equal(m.status, "associated");
  await nodeLane.advance(2000);
  assert.deepEqual(changes, [true, false, true]);
  assert.equal(m.attempts, attempts);
});

test("an attempt that never gets an address times out and is retried", async () => {
  const w = fresh();
  w.accessPoint.dhcpMs = 10 * 60_000; // DHCP server not answering
  const { m, changes } = manager({ attemptTimeout: 5000 });
  m.start();
  await nodeLane.advance(5100);
  assert.equal(m.status, "waiting");
  assert.ok(nodeLane.log.lines.some((l) => l.includes("attempt timed out")));
  w.accessPoint.dhcpMs = 300;
  await nodeLane.advance(10_000);
  assert.deepEqual(changes, [true]);
  assert.ok(m.attempts >= 2);
});

test("flapping access point (short blips survive, long outages drop): up/down reports strictly alternate and it ends up", async () => {
  fresh();
  const { m, changes } = manager({ maxBackoff: 8000 });
  m.start();
  await nodeLane.advance(1000);
  for (let i = 0; i < 12; i++) {
    nodeLane.control("wifi.ap", "down");
    await nodeLane.advance(700 + ((i * 1931) % 4000));
    nodeLane.control("wifi.ap", "up");
    await nodeLane.advance(10_000 + ((i * 787) % 3000));
  }
  await nodeLane.advance(60_000);
  assert.equal(m.up, true);
  assert.equal(changes[0], true);
  for (let i = 1; i < changes.length; i++) assert.notEqual(changes[i], changes[i - 1], `not alternating: ${changes}`);
  assert.equal(changes[changes.length - 1], true);
  assert.ok(m.downs >= 3, `downs ${m.downs}`);
});

test("stop(): reports down, leaves the network, and makes no further attempts", async () => {
  fresh();
  const { m, changes } = manager();
  m.start();
  await nodeLane.advance(1000);
  m.stop();
  assert.deepEqual(changes, [true, false]);
  assert.equal(m.status, "stopped");
  const attempts = m.attempts;
  nodeLane.control("wifi.ap", "down");
  nodeLane.control("wifi.ap", "up");
  await nodeLane.advance(5 * 60_000);
  assert.equal(m.attempts, attempts);
  assert.equal(Net.get("IP"), undefined);
});

test("options are validated with messages naming the field", () => {
  assert.throws(() => new WiFiManager({ ssid: "" }), /ssid/);
  assert.throws(() => new WiFiManager({ ssid: "x", minBackoff: -1 }), /minBackoff/);
  assert.throws(() => new WiFiManager({ ssid: "x", jitter: 2 }), /jitter/);
});

test("wifi shim: ESP32 connect validation; Net.resolve answers asynchronously, only when online", async () => {
  fresh();
  assert.throws(() => WiFi.connect({ ssid: "" }), /ssid required/);
  assert.throws(() => WiFi.connect({ ssid: "x".repeat(33) }), /ssid too long/);
  const answers: Array<[string, string | undefined]> = [];
  const ask = (name: string) => Net.resolve(name, (n, address) => answers.push([n, address]));
  ask("localhost");
  assert.equal(answers.length, 0, "never from inside the call");
  await nodeLane.advance(100);
  assert.deepEqual(answers, [["localhost", undefined]], "offline: no address");
  const { m } = manager();
  m.start();
  await nodeLane.advance(1000);
  answers.length = 0;
  ask("localhost");
  ask("10.1.2.3");
  ask("no.such.host.example");
  await nodeLane.advance(100);
  assert.deepEqual(answers, [
    ["localhost", "127.0.0.1"],
    ["10.1.2.3", "10.1.2.3"],
    ["no.such.host.example", undefined],
  ]);
  assert.equal(Net.get("SSID"), "lab");
  assert.equal(Net.get("MAC"), "a4:cf:12:00:00:01");
  assert.deepEqual(Net.get("DNS"), ["192.168.4.1"]);
});
