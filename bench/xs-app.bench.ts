// Heap slots of the real app (main.ts) inside XS: after boot (connected, first report out) and after
// 1,000 reports, against the local OneNET emulator, on a virtual clock (device and emulator advanced
// in lockstep) so the run is the same every time. Slots are counted by xsnap after a full GC.
// Anchor for xs.app.slots.after1000 is xs.app.slots.boot (ratio - 1 = growth; the issue asks <= 1 %).
import { XsLane } from "../tools/sim/xs-lane.ts";
import { VIRTUAL_EPOCH } from "../tools/sim/clock.ts";
import { DEMO } from "../tools/sim/start.ts";
import { startEmulator, VirtualClock as EmulatorClock } from "../tools/emulator/index.ts";
import type { Report } from "./run.ts";

const REPORTS = 1000;
const INTERVAL_S = 5;

function reports(lane: XsLane): number {
  let n = 0;
  for (const line of lane.logs) if (/ app: report id=\d+/.test(line)) n++;
  return n;
}

/** Lets real I/O between the device and the emulator finish (no bytes moving for a moment). */
async function quiet(lane: XsLane): Promise<void> {
  let last = -1;
  for (let stable = 0; stable < 3; ) {
    await lane.idle();
    await new Promise((r) => setTimeout(r, 3));
    const now = lane.link.stats.bytesIn + lane.link.stats.bytesOut;
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}

export default async function bench(report: Report): Promise<void> {
  const clock = new EmulatorClock(VIRTUAL_EPOCH);
  const emulator = await startEmulator({
    host: "127.0.0.1",
    port: 0,
    httpPort: 0,
    devices: [{ product: DEMO.product, device: DEMO.device, key: DEMO.key }],
    clock,
    log: () => {},
  });
  const config = { ...DEMO, interval: String(INTERVAL_S), tls: "0", host: "127.0.0.1", port: String(emulator.port) };
  const lane = await XsLane.start({ entry: "main.ts", config });
  const step = async (ms: number): Promise<void> => {
    await lane.advance(ms);
    clock.advance(ms);
    await quiet(lane);
  };
  try {
    for (let i = 0; i < 60 && reports(lane) < 1; i++) await step(1000);
    if (reports(lane) < 1) {
      console.error("  xs-app: the app did not report within 60 s of virtual time; skipped");
      return;
    }
    await step(1000);
    const boot = await lane.heapSlots();
    const first = reports(lane);
    while (reports(lane) < first + REPORTS) {
      await step(INTERVAL_S * 1000);
      if (lane.fatal) throw lane.fatal;
    }
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
  } finally {
    await lane.close();
    await emulator.close();
  }
}
