// The real app (main.ts) inside XS against the local OneNET emulator, on a virtual clock (device and
// emulator advanced in lockstep) so the run is the same every time.
// - xs.app.slots.boot / xs.app.slots.after1000: heap slots (xsnap, after a full GC) once the app is
//   connected and has reported, and 1,000 reports later. Anchor for after1000 is boot (ratio - 1 =
//   growth; the target is <= 1 %).
// - xs.app.computrons.per_report: computrons of everything the app runs over those 1,000 report
//   intervals (timer wake-ups, sampling the sensors, the OneNET post, the MQTT session, outbox and
//   client, the socket writes, the PUBACK and post-reply handling, its log lines), divided by 1,000.
//   Anchor, same run: a naive firmware with the same sensors and drivers on the same emulator that
//   samples, JSON.stringify + ArrayBuffer.fromString, frames a plain QoS 1 PUBLISH by hand, writes it,
//   and handles the reply with String.fromArrayBuffer + JSON.parse: no outbox, no session, no pacing,
//   no checks, no log lines. Both include the simulated sensors (their I2C models run in XS too).
import { resolve } from "node:path";
import { XsLane, type XsLaneOptions } from "../tools/sim/xs-lane.ts";
import { bundle, firmwareEntry, projectRoot, type Bundle } from "../tools/sim/bundle.ts";
import { VIRTUAL_EPOCH } from "../tools/sim/clock.ts";
import { DEMO } from "../tools/sim/start.ts";
import { startEmulator, VirtualClock as EmulatorClock, type Emulator } from "../tools/emulator/index.ts";
import type { Report } from "./run.ts";

const REPORTS = 1000;
export const INTERVAL_S = 5;
const NAIVE_REPORTS = 200;

export function reports(lane: XsLane): number {
  let n = 0;
  for (const line of lane.logs) if (/ app: report id=\d+/.test(line)) n++;
  return n;
}

/** Lets real I/O between the device and the emulator finish (no bytes moving for a moment). */
export async function quiet(lane: XsLane): Promise<void> {
  let last = -1;
  for (let stable = 0; stable < 3; ) {
    await lane.idle();
    await new Promise((r) => setTimeout(r, 3));
    const now = lane.link.stats.bytesIn + lane.link.stats.bytesOut;
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}

export async function emulatorOnVirtualClock(): Promise<{ emulator: Emulator; clock: EmulatorClock; posts: () => number }> {
  const clock = new EmulatorClock(VIRTUAL_EPOCH);
  const emulator = await startEmulator({
    host: "127.0.0.1",
    port: 0,
    httpPort: 0,
    devices: [{ product: DEMO.product, device: DEMO.device, key: DEMO.key }],
    clock,
    log: () => {},
  });
  let posts = 0;
  emulator.events.on("event", (e: { type: string }) => {
    if (e.type === "post") posts++;
  });
  return { emulator, clock, posts: () => posts };
}

export interface EmulatorLane {
  lane: XsLane;
  emulator: Emulator;
  /** Posts the emulator has received. */
  posts: () => number;
  /** Advances device and emulator by `ms` in lockstep, then lets their I/O finish. */
  step: (ms: number) => Promise<void>;
  close: () => Promise<void>;
}

/** A lane (the demo device's config, INTERVAL_S, plus `config`) against an emulator on a virtual clock. */
export async function startOnEmulator(options: Omit<XsLaneOptions, "config">, config: Record<string, string> = {}): Promise<EmulatorLane> {
  const { emulator, clock, posts } = await emulatorOnVirtualClock();
  let lane: XsLane;
  try {
    // The OTA API is the emulator's, as OneNET's is in the field: without it the device would try
    // the real platform's host name, fail, and retry its version report every minute, work that
    // the field never sees.
    const endpoints = { host: "127.0.0.1", port: String(emulator.port), otaHost: "127.0.0.1", otaPort: String(emulator.httpPort), otaTls: "0" };
    lane = await XsLane.start({ ...options, config: { ...DEMO, interval: String(INTERVAL_S), ...endpoints, ...config } });
  } catch (error) {
    await emulator.close();
    throw error;
  }
  const step = async (ms: number): Promise<void> => {
    await lane.advance(ms);
    clock.advance(ms);
    await quiet(lane);
  };
  const close = async (): Promise<void> => {
    await lane.close();
    await emulator.close();
  };
  return { lane, emulator, posts, step, close };
}

export default async function bench(report: Report): Promise<void> {
  const raw = await app(report);
  if (raw === undefined) return;
  const naiveRaw = await naiveFirmware();
  const ours = await appFirmware();
  const naive = await naiveFirmware(true);
  report({
    name: "xs.app.computrons.per_report",
    value: ours.firmware,
    unit: "firmware computrons per report cycle, the simulator's stand-ins for the board's natives and chips at the cost of a call (lower is better)",
    anchor: "xs.naive.per_report (stringify+fromString, hand-framed PUBLISH, JSON.parse reply; same stand-ins)",
    anchorValue: naive.firmware,
  });
  report({
    name: "xs.app.computrons.with_simulator",
    value: raw,
    unit: "computrons per report cycle, the simulator's stand-ins included (lower is better)",
    anchor: "xs.naive.with_simulator",
    anchorValue: naiveRaw,
  });
  report({
    name: "xs.app.computrons.simulator",
    value: ours.standins,
    unit: "computrons per report cycle in the stand-ins (I2C chips, flash model, sockets, timers, trace, ...)",
    anchor: "xs.naive.simulator",
    anchorValue: naive.standins,
  });
}

// xsnap's meter functions, kept for bench/xs/standins.ts before the lane's bridge removes them.
export const METER = "globalThis.__profileMeter=globalThis.resetMeter;globalThis.__profileLimit=globalThis.currentMeterLimit;";

/** `entryCode` bundled after bench/xs/standins.ts, with the meter handed to it. */
async function meteredBundle(entryCode: string): Promise<Bundle> {
  const b = await bundle(`import "./bench/xs/standins.ts";\n${entryCode}`);
  b.code = METER + b.code;
  return b;
}

/**
 * Sets the stand-ins' wrapper residue so that a wrapped empty function costs what an unwrapped one
 * does, and checks that it does.
 */
export async function calibrate(lane: XsLane, noop = "globalThis.__standinNoop", setResidue = "globalThis.__standinResidue"): Promise<void> {
  const loop = (f: string) => `{ const f = ${f}; for (let i = 0; i < 1000; i++) f(); }`;
  const excess = async (): Promise<number> => {
    await lane.evaluate(loop(noop));
    const wrapped = (await lane.evaluate(loop(noop))).compute;
    const plain = (await lane.evaluate(loop("() => undefined"))).compute;
    return (wrapped - plain) / 1000;
  };
  const residue = Math.round(await excess());
  await lane.evaluate(`${setResidue}(${residue})`);
  const left = await excess();
  if (Math.abs(left) > 1) throw new Error(`${noop} calibration: a wrapped call still costs ${left} computrons more than a plain one`);
}

async function standins(lane: XsLane): Promise<number> {
  return (JSON.parse((await lane.query("globalThis.__standins()")).value) as { computrons: number }).computrons;
}

/** The app's firmware computrons per report (stand-ins at the cost of a call) and the stand-ins' own. */
async function appFirmware(): Promise<{ firmware: number; standins: number }> {
  // "none": the wrappers add frames; the board's stack is held in the plain run (app()).
  const bundled = await meteredBundle(firmwareEntry(resolve(projectRoot, "main.ts")));
  const { lane, step, close } = await startOnEmulator({ bundle: bundled, limits: "none" }, { tls: "0" });
  try {
    for (let i = 0; i < 60 && reports(lane) < 1; i++) await step(1000);
    if (reports(lane) < 1) throw new Error("xs-app: the app did not report within 60 s of virtual time (stand-ins metered)");
    await step(1000);
    await calibrate(lane);
    const first = reports(lane);
    const compute = lane.totalCompute;
    const kept = await standins(lane);
    for (let i = 0; i < REPORTS; i++) {
      await step(INTERVAL_S * 1000);
      if (lane.fatal) throw lane.fatal;
    }
    const done = reports(lane) - first;
    if (done !== REPORTS) throw new Error(`the app made ${done} reports in ${REPORTS} intervals (stand-ins metered)`);
    return { firmware: Math.round((lane.totalCompute - compute) / REPORTS), standins: Math.round(((await standins(lane)) - kept) / REPORTS) };
  } finally {
    await close();
  }
}

/** The app's slot figures; returns its computrons per report. */
async function app(report: Report): Promise<number | undefined> {
  const { lane, step, close } = await startOnEmulator({ entry: "main.ts" }, { tls: "0" });
  try {
    for (let i = 0; i < 60 && reports(lane) < 1; i++) await step(1000);
    if (reports(lane) < 1) {
      console.error("  xs-app: the app did not report within 60 s of virtual time; skipped");
      return undefined;
    }
    await step(1000);
    const boot = await lane.heapSlots();
    const first = reports(lane);
    const compute = lane.totalCompute;
    for (let i = 0; i < REPORTS; i++) {
      await step(INTERVAL_S * 1000);
      if (lane.fatal) throw lane.fatal;
    }
    const done = reports(lane) - first;
    if (done !== REPORTS) throw new Error(`the app made ${done} reports in ${REPORTS} intervals`);
    const perReport = Math.round((lane.totalCompute - compute) / REPORTS);
    await step(1000);
    const after = await lane.heapSlots();
    report({ name: "xs.app.slots.boot", value: boot, unit: "XS heap slots after GC (lower is better)" });
    report({
      name: "xs.app.slots.after1000",
      value: after,
      unit: "XS heap slots after GC, 1000 reports later (ratio to boot: growth; target <= 1.01)",
      anchor: "xs.app.slots.boot",
      anchorValue: boot,
    });
    return perReport;
  } finally {
    await close();
  }
}

// The naive firmware: the same sensors, the OneNET login done with our codec (once, not measured),
// then every interval a hand-made post.
export const NAIVE = `
  import Timer from "timer";
  import { Socket } from "socket";
  import config from "mc/config";
  import i2c from "platform/i2c";
  import extra from "platform/sensor";
  import Sensors from "./drivers/sensors";
  import { token } from "./onenet/token";
  import { encode } from "./mqtt/encode";
  import { SILENT } from "./lib/log";

  const prefix = "$sys/" + config.product + "/" + config.device + "/";
  const postTopic = prefix + "thing/property/post";
  const replyTopic = prefix + "thing/property/post/reply";
  let socket;
  let id = 0;
  let replies = 0;

  function report(sensors) {
    const r = sensors.read({});
    const time = Date.now();
    const params = {};
    for (const k in r) if (r[k] !== undefined) params[k] = { value: r[k], time };
    const payload = new Uint8Array(ArrayBuffer.fromString(JSON.stringify({ id: String(++id), version: "1.0", params })));
    const topic = new Uint8Array(ArrayBuffer.fromString(postTopic));
    const remaining = 2 + topic.length + 2 + payload.length;
    const h = remaining < 128 ? 2 : 3;
    const out = new Uint8Array(h + remaining);
    out[0] = 0x32;
    if (h === 2) out[1] = remaining;
    else {
      out[1] = (remaining & 0x7f) | 0x80;
      out[2] = remaining >> 7;
    }
    out[h] = topic.length >> 8;
    out[h + 1] = topic.length & 0xff;
    out.set(topic, h + 2);
    const at = h + 2 + topic.length;
    const mid = (id % 65535) + 1;
    out[at] = mid >> 8;
    out[at + 1] = mid & 0xff;
    out.set(payload, at + 2);
    socket.write(out.buffer);
  }

  // Bytes of a packet split across TCP segments, kept for the next one.
  let held = new Uint8Array(0);

  function received(chunk, sensors) {
    let bytes = chunk;
    if (held.length !== 0) {
      bytes = new Uint8Array(held.length + chunk.length);
      bytes.set(held);
      bytes.set(chunk, held.length);
      held = new Uint8Array(0);
    }
    let at = 0;
    while (at < bytes.length) {
      const first = bytes[at];
      let remaining = 0;
      let multiplier = 1;
      let i = at + 1;
      let digit = 0x80;
      while (digit & 0x80 && i < bytes.length) {
        digit = bytes[i++];
        remaining += (digit & 0x7f) * multiplier;
        multiplier *= 128;
      }
      const end = i + remaining;
      if (digit & 0x80 || end > bytes.length) {
        held = bytes.slice(at);
        return;
      }
      const type = first >> 4;
      if (type === 3) {
        const length = (bytes[i] << 8) | bytes[i + 1];
        const topic = String.fromArrayBuffer(bytes.buffer.slice(i + 2, i + 2 + length));
        const payload = i + 2 + length + ((first & 6) ? 2 : 0);
        if (topic === replyTopic && JSON.parse(String.fromArrayBuffer(bytes.buffer.slice(payload, end))).code === 200) replies++;
      } else if (type === 2) {
        socket.write(encode({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: replyTopic, qos: 0 }] }).buffer);
        Timer.repeat(() => report(sensors), Number(config.interval) * 1000);
      }
      at = end;
    }
  }

  function main() {
    const sensors = new Sensors({ data: 21, clock: 22, io: i2c, extra, log: SILENT });
    sensors.detect();
    const password = new Uint8Array(ArrayBuffer.fromString(token({ product: config.product, device: config.device, key: config.key, et: 2145916800, method: "sha256" })));
    socket = new Socket({ host: config.host, port: Number(config.port) });
    socket.callback = (message) => {
      if (message === 1) {
        socket.write(encode({ cmd: "connect", clientId: config.device, username: config.product, password, keepalive: 60, clean: true }).buffer);
      } else if (message === 2) {
        received(new Uint8Array(socket.read(ArrayBuffer)), sensors);
      }
    };
  }
  globalThis.__sim.entry = { default: main, replies: () => replies };
`;

/**
 * The naive firmware's computrons per report; with `metered`, its firmware computrons (stand-ins at
 * the cost of a call) and the stand-ins' own, as appFirmware() measures ours.
 */
async function naiveFirmware(): Promise<number>;
async function naiveFirmware(metered: true): Promise<{ firmware: number; standins: number }>;
async function naiveFirmware(metered = false): Promise<number | { firmware: number; standins: number }> {
  const { lane, step, posts, close } = await startOnEmulator(metered ? { bundle: await meteredBundle(NAIVE), limits: "none" } : { entryCode: NAIVE });
  try {
    for (let i = 0; i < 60 && posts() < 1; i++) await step(1000);
    if (posts() < 1) throw new Error("the naive firmware did not post within 60 s of virtual time");
    await step(1000);
    if (metered) await calibrate(lane);
    const first = posts();
    const compute = lane.totalCompute;
    const kept = metered ? await standins(lane) : 0;
    for (let i = 0; i < NAIVE_REPORTS; i++) {
      await step(INTERVAL_S * 1000);
      if (lane.fatal) throw lane.fatal;
    }
    const perReport = Math.round((lane.totalCompute - compute) / NAIVE_REPORTS);
    const standinsPerReport = metered ? Math.round(((await standins(lane)) - kept) / NAIVE_REPORTS) : 0;
    if (posts() - first !== NAIVE_REPORTS) throw new Error(`the naive firmware posted ${posts() - first} times in ${NAIVE_REPORTS} intervals`);
    const { value } = await lane.query("globalThis.__sim.entry.replies()");
    if (Number(value) < NAIVE_REPORTS) throw new Error(`the naive firmware saw ${value} replies to ${posts()} posts`);
    return metered ? { firmware: perReport, standins: standinsPerReport } : perReport;
  } finally {
    await close();
  }
}
