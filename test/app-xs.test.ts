// The app (main.ts) as it runs on the board, inside the real XS engine (sim/xs-lane.ts) with the
// simulated Wi-Fi, sensors and flash, against the local OneNET emulator (emulator/index.ts, which
// checks the token and answers like the platform, docs/onenet.md). Pins the boot contract:
// bad config stops boot with one line naming each key and idles (no crash, no reboot loop); a good
// config reports; the writable `interval` (persisted across a reboot) and `led` obey property set
// (OneJSON set_reply code 200, or 100 naming what was refused) and property get; every device line has
// the DESIGN.md format and no secret appears in any line.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XsLane } from "../tools/sim/xs-lane.ts";
import { startEmulator, type Emulator } from "../tools/emulator/index.ts";

const dir = mkdtempSync(join(tmpdir(), "app-xs-"));
const lanes: XsLane[] = [];
const emulators: Emulator[] = [];
after(async () => {
  for (const lane of lanes) await lane.close();
  for (const e of emulators) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

const LINE = /^\d+ (DEBUG|INFO|WARN|ERROR) [a-z][a-z0-9-]*: \S/;
const DEVICE = {
  product: "AppTest001",
  device: "app-device",
  // base64 of "app-xs-test-device-key-000000001"
  key: "YXBwLXhzLXRlc3QtZGV2aWNlLWtleS0wMDAwMDAwMDE=",
};
const PASSWORD = "wifi-secret-pw";

function assertClean(lines: readonly string[]): void {
  for (const line of lines) {
    assert.match(line, LINE, `log line format: ${line}`);
    assert.ok(!line.includes(PASSWORD), `Wi-Fi password leaked: ${line}`);
    assert.ok(!line.includes(DEVICE.key), `device key leaked: ${line}`);
    assert.ok(!/version=2018-10-31&res=/.test(line), `token leaked: ${line}`);
  }
}

test("bad config: one line naming every bad key, then idle without crashing or rebooting", async () => {
  const lane = await XsLane.start({
    entry: "main.ts",
    storagePath: join(dir, "bad.json"),
    config: { password: PASSWORD, key: "not*base64", port: "70000", keepalive: "5" },
  });
  lanes.push(lane);
  const stop = lane.logs.filter((l) => l.includes("boot stopped, fix these keys"));
  assert.equal(stop.length, 1, lane.logs.join("\n"));
  for (const key of ["ssid", "product", "device", "key", "port", "keepalive"]) assert.match(stop[0], new RegExp(`\\b${key} \\(`));
  assert.match(stop[0], /^\d+ ERROR config: /);
  assert.ok(!stop[0].includes("not*base64"), "the bad value itself is not echoed");
  // Idle: two more minutes of (virtual) time, a reminder each minute, nothing else started.
  await lane.advance(125_000);
  assert.equal(lane.logs.filter((l) => l.includes("ERROR app: boot stopped, idle reason=config")).length, 2);
  assert.ok(!lane.logs.some((l) => / (wifi|mqtt|onenet): /.test(l)), "no Wi-Fi or MQTT activity");
  assert.equal(lane.fatal, undefined);
  assertClean(lane.logs);
  await lane.close();
});

test("good config: reports to the OneNET emulator, obeys interval/led sets and gets, keeps interval across reboot", async () => {
  const emulator = await startEmulator({ host: "127.0.0.1", port: 0, httpPort: 0, devices: [DEVICE], log: () => {} });
  emulators.push(emulator);
  // What the platform learned from property posts (get replies excluded: they come later, on request).
  const posted: { identifier: string; value: unknown }[] = [];
  emulator.events.on("event", (e: { type: string; identifier?: string; value?: unknown }) => {
    if (e.type === "property" && (e.identifier === "interval" || e.identifier === "led")) posted.push({ identifier: e.identifier, value: e.value });
  });
  const lane = await XsLane.start({
    entry: "main.ts",
    clock: "real",
    storagePath: join(dir, "good.json"),
    config: { ssid: "sim-ap", password: PASSWORD, ...DEVICE, tls: "0", host: "127.0.0.1", port: String(emulator.port), interval: "2", led: "5" },
  });
  lanes.push(lane);
  const reports = (l: XsLane) => l.logs.filter((line) => / INFO app: report id=/.test(line)).length;
  await lane.waitFor(() => reports(lane) >= 2, 30_000, "two reports");
  assert.ok(lane.logs.some((l) => / INFO mqtt: connected /.test(l)), "the emulator accepted the token");
  assert.ok(lane.logs.some((l) => / INFO sensors: found sensors=/.test(l)), "sensors detected on the simulated bus");
  // The writable properties are reported at boot, so the console shows them before any set.
  await lane.waitFor(() => posted.some((p) => p.identifier === "interval" && p.value === 2), 10_000, "interval posted at boot");
  assert.ok(posted.some((p) => p.identifier === "led" && p.value === false), JSON.stringify(posted));

  const set = await emulator.setProperties(DEVICE.product, DEVICE.device, { interval: 3, led: true });
  assert.equal(set.code, 200, JSON.stringify(set));
  await lane.waitFor(() => lane.logs.some((l) => / INFO led: on pin=5/.test(l)), 10_000, "LED on");
  assert.ok(lane.logs.some((l) => / INFO app: report interval changed seconds=3 was=2/.test(l)));
  // ... and again after every set: one post with both new values.
  await lane.waitFor(() => posted.some((p) => p.identifier === "interval" && p.value === 3), 10_000, "new interval posted");
  await lane.waitFor(() => posted.some((p) => p.identifier === "led" && p.value === true), 10_000, "new led state posted");

  const refused = await emulator.setProperties(DEVICE.product, DEVICE.device, { interval: 0 });
  assert.equal(refused.code, 100, JSON.stringify(refused));
  assert.match(refused.msg ?? "", /interval/);

  const got = await emulator.getProperties(DEVICE.product, DEVICE.device, ["interval", "led"]);
  assert.equal(got.code, 200, JSON.stringify(got));
  assert.deepEqual(got.data, { interval: 3, led: true });
  assertClean(lane.logs);

  // Written to flash once it has held a few seconds (one write for a burst of sets).
  await lane.waitFor(() => lane.logs.some((l) => / INFO settings: interval saved seconds=3/.test(l)), 10_000, "interval saved");
  assert.equal(lane.logs.filter((l) => / INFO settings: interval saved/.test(l)).length, 1);
  // Reboot with the same flash: the interval set from the cloud is kept.
  const again = await lane.reboot();
  lanes.push(again);
  await again.waitFor(() => again.logs.some((l) => / INFO app: report interval seconds=3 source=cloud/.test(l)), 10_000, "interval from flash");
  await again.waitFor(() => reports(again) >= 1, 30_000, "a report after the reboot");
  assertClean(again.logs);
  await again.close();

  // Rebuilt with another configured interval: the new configured value wins over the stored one.
  const rebuilt = await XsLane.start({
    entry: "main.ts",
    clock: "real",
    storagePath: join(dir, "good.json"),
    config: { ssid: "sim-ap", password: PASSWORD, ...DEVICE, tls: "0", host: "127.0.0.1", port: String(emulator.port), interval: "4" },
  });
  lanes.push(rebuilt);
  assert.ok(rebuilt.logs.some((l) => / INFO app: report interval seconds=4 source=config/.test(l)), rebuilt.logs.join("\n"));
  await rebuilt.close();
});

test("Wi-Fi drops for a while: readings taken offline wait in the readings log and all reach the platform, at their own times, after it returns", async () => {
  const emulator = await startEmulator({ host: "127.0.0.1", port: 0, httpPort: 0, devices: [DEVICE], log: () => {} });
  emulators.push(emulator);
  // Every temperature the platform learned, by the time it carries (live posts and history alike).
  const temps = new Map<number, unknown[]>();
  emulator.events.on("event", (e: { type: string; identifier?: string; time?: number; value?: unknown }) => {
    if (e.type === "property" && e.identifier === "temp" && e.time !== undefined) temps.set(e.time, [...(temps.get(e.time) ?? []), e.value]);
  });
  const lane = await XsLane.start({
    entry: "main.ts",
    clock: "real",
    storagePath: join(dir, "wifi.json"),
    config: { ssid: "sim-ap", password: PASSWORD, ...DEVICE, tls: "0", host: "127.0.0.1", port: String(emulator.port), interval: "1" },
  });
  lanes.push(lane);
  const reports = (): string[] => lane.logs.filter((l) => / INFO app: report /.test(l) && / temp=/.test(l));
  await lane.waitFor(() => temps.size >= 1, 30_000, "a first reading at the emulator");

  await lane.control("wifi.ap", "down");
  await lane.waitFor(() => lane.logs.some((l) => / WARN app: network down/.test(l)), 30_000, "network down noticed");
  const before = reports().length;
  await lane.waitFor(() => reports().length >= before + 5, 30_000, "five readings while offline");
  assert.ok(reports().some((l) => /online=false backlog=\d+/.test(l)), "readings go on while offline, into the backlog");

  await lane.control("wifi.ap", "up");
  const made = reports().length;
  // all but the newest (its post may still be on its way) arrive, live or back-filled
  await lane.waitFor(() => temps.size >= made - 1, 60_000, `${made} readings at the emulator`);
  assert.ok(lane.logs.some((l) => / online=true backlog=\d+/.test(l)), "live reports continue while the backlog drains");
  // A post whose reply the outage swallowed is sent again from the log: the same value at the same
  // time (the platform keeps one point per time); nothing else arrives twice.
  let again = 0;
  for (const [time, values] of temps) {
    assert.ok(values.every((v) => v === values[0]), `reading at ${time}: one value`);
    again += values.length - 1;
  }
  assert.ok(again <= 2, `${again} readings sent twice`);
  assert.equal(lane.fatal, undefined);
  assertClean(lane.logs);
  await lane.close();
});

test("a sensor unplugged mid-run: its properties drop out of the reports, the app keeps reporting, and they return when it is back", async () => {
  const emulator = await startEmulator({ host: "127.0.0.1", port: 0, httpPort: 0, devices: [DEVICE], log: () => {} });
  emulators.push(emulator);
  const lane = await XsLane.start({
    entry: "main.ts",
    clock: "real",
    storagePath: join(dir, "sensor.json"),
    config: { ssid: "sim-ap", password: PASSWORD, ...DEVICE, tls: "0", host: "127.0.0.1", port: String(emulator.port), interval: "1" },
  });
  lanes.push(lane);
  const reports = (): string[] => lane.logs.filter((l) => / INFO app: report id=/.test(l));
  await lane.waitFor(() => reports().some((l) => / humi=/.test(l)), 30_000, "a report with humidity");
  await lane.control("sensor.aht20", "unplug");
  const mark = reports().length;
  await lane.waitFor(() => reports().slice(mark + 1).some((l) => !/ humi=/.test(l)), 30_000, "reports without humidity");
  await lane.control("sensor.aht20", "plug");
  const back = reports().length;
  await lane.waitFor(() => reports().slice(back).some((l) => / humi=/.test(l)), 30_000, "humidity back");
  assert.equal(lane.fatal, undefined);
  assertClean(lane.logs);
  await lane.close();
});
