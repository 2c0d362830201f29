// Where the app's computrons per report go: `node --import tsx bench/xs-profile.ts [reports]`.
// Runs main.ts as bench/xs-app.bench.ts measures xs.app.computrons.per_report (same emulator, virtual
// clock, interval; the simulator's stand-ins at the cost of a call, bench/xs/standins.ts), with every
// method of the firmware's classes on the report and reply paths metered (bench/xs/profile-app.ts),
// and prints per report: each method's calls and computrons (self: without the metered methods it
// calls; total: with them), then the same summed by layer. Module functions and private methods are
// booked to the metered method that calls them; "crank" is the lane's event dispatch plus the
// firmware's timer and socket callbacks up to the first metered method. Not a bench row: the wrappers
// give back their entry and exit (calibrated), but the figure to compare is the bench's.
import { bundle } from "../tools/sim/bundle.ts";
import { calibrate, INTERVAL_S, METER, NAIVE, reports, startOnEmulator } from "./xs-app.bench.ts";

type Stats = { [name: string]: [number, number, number] };

const N = Number(process.argv[2] ?? 200);
/** `naive` as the second argument: the anchor's firmware instead of ours. */
const naive = process.argv[3] === "naive";

const ENTRY = `import "./bench/xs/profile-app.ts";
import * as entry from "./main.ts";
globalThis.__sim.entry = entry;
`;

async function main(): Promise<void> {
  const b = await bundle(naive ? `import "./bench/xs/profile-app.ts";\n${NAIVE}` : ENTRY);
  b.code = METER + b.code;
  const { lane, step, posts, close } = await startOnEmulator({ bundle: b, limits: "none" }, { tls: "0" });
  const done = (): number => (naive ? posts() : reports(lane));
  const read = async (): Promise<Stats> => JSON.parse((await lane.query("globalThis.__profile()")).value) as Stats;
  try {
    await lane.evaluate(`globalThis.__profile = () => (${profileJsonSource})()`);
    for (let i = 0; i < 60 && done() < 1; i++) await step(1000);
    await step(1000);
    await calibrate(lane);
    await calibrate(lane, "globalThis.__profileNoop", "globalThis.__profileResidue");
    const before = await read();
    const compute = lane.totalCompute;
    const first = done();
    for (let i = 0; i < N; i++) await step(INTERVAL_S * 1000);
    const perReport = (lane.totalCompute - compute) / N;
    if (done() - first !== N) throw new Error(`${done() - first} reports in ${N} intervals`);
    const after = await read();
    print(before, after, perReport);
  } finally {
    await close();
  }
}

// Evaluated in XS: the profiler module's stats are reachable through the bundle only, so the entry
// hands them out by name (profile-app.ts sets globalThis.__profileJson).
const profileJsonSource = "() => globalThis.__profileJson()";

function print(before: Stats, after: Stats, perReport: number): void {
  const rows: { name: string; calls: number; self: number; total: number }[] = [];
  for (const name of Object.keys(after)) {
    const [c1, s1, t1] = after[name];
    const [c0, s0, t0] = before[name] ?? [0, 0, 0];
    if (c1 === c0) continue;
    rows.push({ name, calls: (c1 - c0) / N, self: (s1 - s0) / N, total: (t1 - t0) / N });
  }
  rows.sort((a, b) => b.self - a.self);
  const fmt = (n: number) => (Math.round(n * 10) / 10).toLocaleString("en-US");
  console.log(`firmware computrons per report (stand-ins at the cost of a call): ${fmt(perReport)}`);
  console.log("");
  console.log(["method".padEnd(44), "calls".padStart(7), "self".padStart(9), "total".padStart(9)].join(" "));
  for (const r of rows) console.log([r.name.padEnd(44), fmt(r.calls).padStart(7), fmt(r.self).padStart(9), fmt(r.total).padStart(9)].join(" "));
  const layers = new Map<string, { self: number; calls: number }>();
  for (const r of rows) {
    if (r.name === "noop") continue;
    const layer = r.name === "crank" ? "lane dispatch (crank, unattributed)" : layerOf(r.name);
    const l = layers.get(layer) ?? { self: 0, calls: 0 };
    l.self += r.self;
    l.calls += r.calls;
    layers.set(layer, l);
  }
  console.log("");
  console.log("by layer (self computrons per report)");
  for (const [layer, l] of [...layers].sort((a, b) => b[1].self - a[1].self)) console.log(`  ${layer.padEnd(40)} ${fmt(l.self).padStart(9)}  (${fmt(l.calls)} calls)`);
}

function layerOf(name: string): string {
  const cls = name.split(".")[0];
  const layer: { [cls: string]: string } = {
    App: "app", Board: "drivers", Sensors: "drivers", AHT20: "drivers", BMP280: "drivers", I2CSensor: "drivers", WiFiManager: "drivers",
    ReadingLog: "store", Uplink: "store", OneNetClient: "onenet", OneNetDevice: "onenet", Topics: "onenet", IdCounter: "onenet",
    MqttClient: "mqtt", Session: "mqtt", Outbox: "mqtt", Decoder: "mqtt", Encoder: "mqtt", PreferenceStorage: "mqtt",
    Log: "log", Uptime: "lib/time",
  };
  return layer[cls] ?? cls;
}

await main();
