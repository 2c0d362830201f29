// The drivers inside the real XS engine (XS lane): Wi-Fi manager, sensor autodetect and board data
// running as firmware, against the simulated access point, I2C chips and environment, driven from
// the host through the named controls ("wifi.ap", "sensor.<chip>", "env") on the virtual clock.
// The portable suite test/portable/drivers.suite.ts covers the drivers case by case in XS too.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { XsLane } from "../tools/sim/xs-lane.ts";
import { projectRoot } from "../tools/sim/bundle.ts";

const PASSWORD = "xs-lane-wifi-secret";
const file = (p: string) => JSON.stringify(resolve(projectRoot, p));
const entryCode = `
import config from "mc/config";
import WiFiManager from ${file("drivers/wifi.ts")};
import Sensors from ${file("drivers/sensors.ts")};
import Board from ${file("drivers/board.ts")};
import io from ${file("platform/esp32/i2c.ts")};
import { Log } from ${file("lib/log.ts")};
const log = new Log();
const changes = [];
let wifi, sensors, board;
globalThis.__sim.entry = {
  start() {
    wifi = new WiFiManager({ ssid: config.ssid, password: config.password, log, onChange: (up) => changes.push(up) });
    wifi.start();
    sensors = new Sensors({ io, log, data: Number(config.sda ?? 21), clock: Number(config.scl ?? 22) });
    board = new Board(wifi);
    return sensors.detect().join(",");
  },
  read() {
    const r = sensors.read();
    board.read(r);
    return JSON.stringify(r);
  },
  wifi() {
    return JSON.stringify({ changes, up: wifi.up, ip: wifi.ip, rssi: wifi.rssi, status: wifi.status });
  },
};
`;

const lanes: XsLane[] = [];
after(async () => {
  for (const lane of lanes) await lane.close();
});

async function lane(config: Record<string, string>): Promise<XsLane> {
  const l = await XsLane.start({ entryCode, boot: false, config: { ssid: "lab", password: PASSWORD, ...config } });
  lanes.push(l);
  return l;
}

const call = async (l: XsLane, fn: string) => (await l.query(`globalThis.__sim.entry.${fn}()`)).value;
const json = async (l: XsLane, fn: string) => JSON.parse(await call(l, fn)) as Record<string, unknown>;

test("XS: autodetect AHT20 + BMP280, Wi-Fi up, properties follow the environment; faults omit and recover", async () => {
  const l = await lane({ sensors: "aht20,bmp280", aht20_uncalibrated: "1" });
  assert.equal(await call(l, "start"), "aht20@0x38,bmp280@0x76");
  await l.advance(2000);
  const w = await json(l, "wifi");
  assert.equal(w.up, true);
  assert.deepEqual(w.changes, [true]);
  assert.equal(w.ip, "192.168.4.2");

  await l.control("env", "temperature 23.45");
  await l.control("env", "humidity 56.78");
  await l.control("env", "pressure 100123");
  let r = await json(l, "read");
  assert.ok(Math.abs((r.temp as number) - 23.45) <= 0.01, `temp ${r.temp}`);
  assert.ok(Math.abs((r.humi as number) - 56.78) <= 0.01, `humi ${r.humi}`);
  assert.ok(Math.abs((r.press as number) - 1001.23) <= 0.01, `press ${r.press}`);
  assert.equal(typeof r.rssi, "number");
  assert.equal(typeof r.heap, "number");
  assert.equal(r.uptime, 2);

  await l.control("sensor.aht20", "unplug");
  r = await json(l, "read");
  assert.deepEqual(Object.keys(r).filter((k) => k === "temp" || k === "humi" || k === "press"), ["press"]);
  await l.control("sensor.aht20", "plug");
  await l.control("sensor.bmp280", "stuck-busy");
  r = await json(l, "read");
  assert.deepEqual(Object.keys(r).filter((k) => k === "temp" || k === "humi" || k === "press").sort(), ["humi", "temp"]);
  await l.control("sensor.bmp280", "clear");
  await l.control("sensor.aht20", "bad-crc 1");
  r = await json(l, "read");
  assert.deepEqual(Object.keys(r).filter((k) => k === "temp" || k === "humi" || k === "press"), ["press"]);
  r = await json(l, "read");
  assert.ok(Math.abs((r.temp as number) - 23.45) <= 0.01, `temp after recovery ${r.temp}`);

  const warnings = l.logs.filter((line) => line.includes("WARN sensors: sample failed"));
  assert.ok(warnings.some((line) => line.includes("sensor=aht20") && line.includes("fault=io")), l.logs.join("\n"));
  assert.ok(warnings.some((line) => line.includes("sensor=aht20") && line.includes("fault=crc")), l.logs.join("\n"));
  assert.ok(l.logs.some((line) => line.includes("INFO sensors: recovered")));
  for (const line of l.logs) assert.ok(!line.includes(PASSWORD), `password in a log line: ${line}`);
});

test("XS: Wi-Fi flap through the wifi.ap control: down reported, rssi omitted, up again after backoff", async () => {
  const l = await lane({ sensors: "none" });
  assert.equal(await call(l, "start"), "");
  await l.advance(2000);
  await l.control("wifi.ap", "down");
  await l.advance(3000);
  let w = await json(l, "wifi");
  assert.deepEqual(w.changes, [true, false]);
  const r = await json(l, "read");
  assert.deepEqual(Object.keys(r).sort(), ["heap", "uptime"], "no sensors and no Wi-Fi: board data without rssi");
  await l.control("wifi.ap", "up");
  await l.advance(60_000);
  w = await json(l, "wifi");
  assert.deepEqual(w.changes, [true, false, true]);
  assert.equal(w.up, true);
  assert.ok(l.logs.some((line) => line.includes("WARN sensors: no sensor found")));
  assert.ok(l.events.some((e) => e.topic === "wifi" && e.detail === "disconnect 0"));
});
