// Store and forward figures (store/ring.ts, store/uplink.ts), the app in the real XS engine against the
// OneNET emulator, both on one virtual clock, so the figures do not depend on machine load:
// - store.drain.day: virtual seconds from the link's return until a day of readings at a 10 s interval
//   (8,640) is at the platform, under the 1 message/s rule. Anchor: one message per reading (8,640 s).
//   Target: <= 180 s.
// - store.flash.bytes_per_reading, store.flash.erases_per_day: the NOR model's counts over that day.
// - store.outage.hours.10s / .60s: the longest outage the default partition holds with no loss.
// - xs.store.append: computrons to append one reading in XS (over the desktop build's RAM flash, so
//   the simulator's persistence is not counted), anchor: copying a 32-byte record.
import { XsLane } from "../tools/sim/xs-lane.ts";
import { VIRTUAL_EPOCH } from "../tools/sim/clock.ts";
import { DEMO } from "../tools/sim/start.ts";
import { PARTITIONS } from "../tools/sim/modules/embedded/storage/flash.ts";
import { startEmulator, VirtualClock as EmulatorClock } from "../tools/emulator/index.ts";
import type { Report } from "./run.ts";

const DAY = 86_400_000;
const INTERVAL_S = 10;

async function drain(report: Report): Promise<void> {
  const clock = new EmulatorClock(VIRTUAL_EPOCH);
  const emulator = await startEmulator({ host: "127.0.0.1", port: 0, httpPort: 0, devices: [{ product: DEMO.product, device: DEMO.device, key: DEMO.key }], clock, log: () => {} });
  const points = new Set<number>();
  emulator.events.on("event", (e: { type: string; identifier?: string; time?: number }) => {
    if (e.type === "property" && e.identifier === "temp" && e.time !== undefined) points.add(e.time);
  });
  let sent = 0;
  let answered = 0;
  let readings = 0;
  const onLog = (line: string): void => {
    if (/ DEBUG mqtt: sent PUBLISH .*topic=\S+\/thing\/\w+\/post /.test(line)) sent++;
    else if (/ DEBUG mqtt: received PUBLISH topic=\S+\/thing\/\w+\/post\/reply /.test(line)) answered++;
    else if (/ INFO app: report .*temp=/.test(line)) readings++;
  };
  // Plain TCP: the figure is the store's and the 1 msg/s rule's (TLS, the default since, costs bytes, not
  // messages; bench/tls.bench.ts). With the default the device met the plain port with TLS and the
  // figure read "never" (10,800: the cap below) without saying why.
  const config = { ...DEMO, interval: String(INTERVAL_S), host: "127.0.0.1", port: String(emulator.port), tls: "0", loglevel: "debug", otaHost: "127.0.0.1", otaPort: String(emulator.httpPort), otaTls: "0" };
  const lane = await XsLane.start({ entry: "main.ts", config, onLog });
  const step = async (ms: number): Promise<void> => {
    await lane.advance(ms);
    clock.advance(ms);
    await lane.waitFor(() => answered >= sent, 10_000, "replies");
  };
  try {
    for (let i = 0; i < 60 && points.size === 0; i++) await step(1000);
    await lane.control("wifi.ap", "down");
    const before = readings;
    await lane.advance(DAY);
    clock.advance(DAY);
    const offline = readings - before;
    // what was in flight when the link went went with it
    sent = answered = 0;
    await lane.control("wifi.ap", "up");
    let seconds = 0;
    while (points.size < readings - 1 && seconds < 3 * 3600) {
      await step(1000);
      seconds++;
    }
    if (points.size === 0) throw new Error("store bench: no reading reached the emulator (is the device able to log in?)");
    const wear = JSON.parse((await lane.control("flash.nor", "stats")) ?? "{}").readings as { erases: number[]; bytes: number; writes: number };
    const erases = wear.erases.reduce((a, b) => a + b, 0);
    report({ name: "store.drain.day", value: seconds, unit: `virtual s to upload ${offline} readings after the link returns (lower is better; target <= 180)`, anchor: "one message per reading", anchorValue: offline });
    report({ name: "store.flash.bytes_per_reading", value: Number((wear.bytes / readings).toFixed(1)), unit: "bytes programmed per reading, record + confirmation mark (lower is better)" });
    report({ name: "store.flash.erases_per_day", value: erases, unit: `4 KB block erases for a day at ${INTERVAL_S} s, all blocks (lower is better)` });
  } finally {
    await lane.close();
    await emulator.close();
  }
}

async function append(report: Report): Promise<void> {
  const K = 500;
  const entryCode = `
    import { ReadingLog } from "./store/ring";
    import openFlash from "./platform/sim/flash";
    const ring = new ReadingLog({ flash: openFlash("readings") });
    const reading = { temp: 23.45, humi: 41.2, press: 1013.25, rssi: -60 };
    const record = new Uint8Array(32);
    let t = 1767225600000;
    let sink = 0;
    globalThis.__sim.entry = {
      empty(k) { for (let i = 0; i < k; i++) sink += i; },
      append(k) { for (let i = 0; i < k; i++) sink += ring.append(reading, i, t += 10000); },
      copy(k) { for (let i = 0; i < k; i++) sink += record.slice().length; },
    };
  `;
  const lane = await XsLane.start({ entryCode, boot: false });
  try {
    const crank = async (name: string, k: number): Promise<number> => (await lane.evaluate(`globalThis.__sim.entry.${name}(${k})`)).compute;
    for (const name of ["empty", "append", "copy"]) await crank(name, 3);
    const empty = await crank("empty", K);
    const perOp = async (name: string): Promise<number> => Math.round(((await crank(name, K)) - empty) / K);
    const copy = await perOp("copy");
    const cost = await perOp("append");
    report({ name: "xs.store.append", value: cost, unit: "computrons per reading appended, erases included (lower is better)", anchor: "xs.copy.record32 (computrons/op)", anchorValue: copy });
  } finally {
    await lane.close();
  }
}

export default async function bench(report: Report): Promise<void> {
  const capacity = (PARTITIONS.readings / 4096 - 1) * 128;
  report({ name: "store.outage.hours.10s", value: Number(((capacity * 10) / 3600).toFixed(1)), unit: `h without loss at a 10 s interval (${capacity} readings)` });
  report({ name: "store.outage.hours.60s", value: Number(((capacity * 60) / 3600).toFixed(1)), unit: `h without loss at a 60 s interval (${capacity} readings)` });
  await append(report);
  await drain(report);
}
