// Store and forward end to end as a user runs it: `npm start` (the firmware in XS, real clock) reporting
// every second to the OneNET emulator through a fault proxy. The link is cut and refused for 90 s: the
// readings taken meanwhile wait in the readings log (store/) and, once the link is back, every one of
// them reaches the platform (live or in history batches) at its own time, while live reports go on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startEmulator } from "../tools/emulator/index.ts";
import { FaultProxy } from "./helpers/fault-proxy.ts";
import { endToEnd, startSim } from "./helpers/sim-start.ts";
import { until } from "./helpers/wait.ts";

const { dir, own } = endToEnd("store-e2e-");
const DEVICE = { product: "StoreE2E01", device: "logger-1", key: "c3RvcmUtZTJlLXRlc3Qta2V5LTAwMDAwMDAwMDE=" };
const OUTAGE_MS = 90_000;

test(`npm start through a ${OUTAGE_MS / 1000} s outage at a 1 s interval: every reading reaches the platform once, at its own time`, { timeout: 300_000 }, async () => {
  const emulator = own(await startEmulator({ host: "127.0.0.1", port: 0, httpPort: 0, devices: [DEVICE], log: () => {} }));
  const proxy = own(new FaultProxy(emulator.port));
  await proxy.listen();
  // The platform's record: each reading's time (temp is in every reading here), live or back-filled,
  // with its value (a resend after a lost reply is the same point: same time, same value).
  const temps = new Map<number, unknown>();
  let conflicts = 0;
  let backfilled = 0;
  // The device's backlog as the platform (and so the console) sees it: the live `backlog` property.
  const liveBacklog: number[] = [];
  emulator.events.on("event", (e: { type: string; identifier?: string; value?: unknown; time?: number; backfill?: boolean }) => {
    if (e.type === "property" && e.identifier === "backlog" && !e.backfill) liveBacklog.push(e.value as number);
    if (e.type !== "property" || e.identifier !== "temp" || e.time === undefined) return;
    if (temps.has(e.time) && temps.get(e.time) !== e.value) conflicts++;
    temps.set(e.time, e.value);
    if (e.backfill) backfilled++;
  });

  let out = "";
  const child = own(startSim(DEVICE, ["host=127.0.0.1", `port=${proxy.port}`, "tls=0", "interval=1", `flash=${join(dir, "flash.json")}`, "fresh=1"], (text) => (out += text)));
  const readings = (): number => (out.match(/ INFO app: report (id|temp)=/g) ?? []).length;

  await until(() => temps.size >= 3, "three live readings at the platform", 60_000);
  proxy.refuse(true);
  proxy.cut();
  await until(() => / online=false /.test(out), "the device offline", 30_000);
  const before = readings();
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  const offline = readings() - before;
  assert.ok(offline >= OUTAGE_MS / 1000 - 5, `readings went on while offline: ${offline}\n${out.slice(-2000)}`);
  proxy.refuse(false);

  // Every reading taken up to now must arrive; readings keep coming meanwhile, so the mark is fixed.
  const mark = readings();
  await until(() => temps.size >= mark, `${mark} readings at the platform`, 120_000).catch((e: Error) => {
    throw new Error(`${e.message}: ${temps.size} arrived\n${out.slice(-3000)}`);
  });
  assert.ok(backfilled >= offline - 2, `the backlog came as history: ${backfilled} back-filled of ${offline} taken offline`);
  assert.equal(conflicts, 0, "no reading arrived twice with different values");
  // While it drained, the device's live posts carried its backlog; once drained, the console shows 0.
  assert.ok(Math.max(...liveBacklog) >= offline / 2, `live backlog seen by the platform: max ${Math.max(...liveBacklog)} of ${offline} taken offline`);
  await until(() => liveBacklog.at(-1) === 0, "a live post with backlog 0 once drained", 60_000);
  const state = (await (await fetch(emulator.consoleUrl + "api/state")).json()) as { devices: { device: string; latest: Record<string, { value: unknown }> }[] };
  assert.equal(state.devices.find((d) => d.device === DEVICE.device)?.latest.backlog?.value, 0, "the console's device view shows the backlog");
  assert.ok(!/ ERROR /.test(out.replace(/.*mqtt: (connection refused|socket error).*\n/g, "")), out.slice(-3000));
  child.kill("SIGINT");
});
