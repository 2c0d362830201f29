// The XS lane holds firmware to the board's memory, read from manifest.json (platforms.esp32.creation:
// 64 KB of chunks, 4,928 slots, a 512-slot stack), although xsnap runs with 32 MB, 256 K slots and
// 4,096 stack slots: the stack through a pad under every entry into firmware, chunks and slots by
// measuring what the firmware holds after a full collection. Past the board's memory the lane stops
// as the board would, with "memory full" / "stack overflow" and the last device lines, not with an
// xsnap exit code.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { XsLane, FirmwareError, boardCreation, STANDIN_SLOTS, type XsLaneOptions } from "../tools/sim/xs-lane.ts";
import { XsnapWorker } from "../tools/sim/xsnap-worker.ts";
import { bundle, projectRoot } from "../tools/sim/bundle.ts";
import { join } from "node:path";

const lanes: XsLane[] = [];
after(async () => {
  for (const lane of lanes) await lane.close();
});

async function start(options: XsLaneOptions): Promise<XsLane> {
  const lane = await XsLane.start(options);
  lanes.push(lane);
  return lane;
}

// Firmware written like the app: a timer that keeps what it allocates (`mode` from mc/config).
const HOARDER = `
  import Timer from "timer";
  import config from "mc/config";
  const kept = [];
  let head = null;
  let n = 0;
  function main() {
    Timer.repeat(() => {
      n++;
      if (config.mode === "chunks") kept.push(new ArrayBuffer(1024));
      else for (let i = 0; i < 100; i++) head = { next: head };
      trace("held " + n + "\\n");
    }, 100);
  }
  globalThis.__sim.entry = { default: main };
`;

function held(lane: XsLane): number {
  const last = lane.logs.filter((l) => l.startsWith("held ")).pop();
  return last === undefined ? 0 : Number(last.slice(5));
}

test("the board's memory is read from manifest.json platforms.esp32.creation, not a copy", () => {
  const manifest = JSON.parse(readFileSync(join(projectRoot, "manifest.json"), "utf8")) as {
    platforms: { esp32: { creation: { chunk: { initial: number }; heap: { initial: number }; stack: number } } };
  };
  const c = manifest.platforms.esp32.creation;
  assert.deepEqual(boardCreation(), { chunks: c.chunk.initial, slots: c.heap.initial, stack: c.stack });
});

test("firmware that keeps 1 KB buffers stops with 'memory full' once it holds more than the board's 64 KB of chunks", async () => {
  const lane = await start({ entryCode: HOARDER, config: { mode: "chunks" } });
  await lane.advance(30_000);
  assert.ok(lane.fatal instanceof FirmwareError, `still running after ${held(lane)} KB`);
  const bytes = Number(/^memory full \((\d+) bytes of chunks held, the board has 65536/.exec(lane.fatal.message)?.[1]);
  // Never before the board would stop (over 65,536 bytes held, about 63 buffers of 1 KB with their
  // headers), and at most MEASURE_EVERY (32) ticks after: the lane measures at least that often.
  assert.ok(bytes > 65_536 && bytes < 65_536 + 33 * 1100, `stopped holding ${bytes} bytes`);
  assert.ok(held(lane) >= 60 && held(lane) <= 64 + 32, `stopped after ${held(lane)} buffers`);
  assert.equal(lane.logs.filter((l) => l === "XS abort: memory full").length, 1, "the board's abort line");
  assert.match(lane.fatal.message, /last log lines:\n(  held \d+\n)+/);
  // Stopped as the board would stop: nothing runs any more.
  const n = held(lane);
  await lane.advance(5_000);
  assert.equal(held(lane), n);
});

test("firmware that keeps objects stops with 'memory full' once it holds more slots than the board's 4,928", async () => {
  const lane = await start({ entryCode: HOARDER, config: { mode: "slots" } });
  await lane.advance(30_000);
  assert.ok(lane.fatal instanceof FirmwareError, `still running after ${held(lane)} ticks`);
  assert.match(lane.fatal.message, /^memory full \(\d+ slots held, the board has 4928/);
  // 100 objects of 2 slots (object and property) a tick: past 4,928 slots in the 25th tick; the lane
  // measures when live and garbage pass the board's heap, where the board collects.
  assert.ok(held(lane) >= 25 && held(lane) <= 25 + 32, `stopped after ${held(lane)} ticks`);
});

test("the same firmware within the board's memory runs and reports its peak", async () => {
  const lane = await start({ entryCode: HOARDER, config: { mode: "chunks" } });
  await lane.advance(3_000); // 30 buffers
  assert.equal(lane.fatal, undefined);
  const use = await lane.memoryUse();
  assert.ok(use.chunks >= 30 * 1024 && use.chunks < 65_536, `chunks ${use.chunks}`);
  assert.ok(lane.peak.chunks >= use.chunks);
  assert.match(lane.peakLine(), /^# peak entry code: slots \d+ of 4,928, chunks [\d,]+ of 65,536 bytes, stack held to 512 slots; \d+ measurements after GC$/);
});

test("limits 'none' records the peak but lets firmware hold more than the board has", async () => {
  const lane = await start({ entryCode: HOARDER, config: { mode: "chunks" }, limits: "none" });
  await lane.advance(10_000); // 100 KB
  assert.equal(lane.fatal, undefined);
  const use = await lane.memoryUse(); // such lanes measure only when asked
  assert.ok(use.chunks > 100 * 1024 && lane.peak.chunks === use.chunks, `held ${use.chunks}, peak ${lane.peak.chunks}`);
});

const RECURSE = `
  import Timer from "timer";
  import config from "mc/config";
  function down(n) { return n === 0 ? 0 : 1 + down(n - 1); }
  function main() {
    Timer.set(() => {
      trace("recursing " + config.depth + "\\n");
      trace("depth " + down(Number(config.depth)) + "\\n");
    }, 10);
  }
  globalThis.__sim.entry = { default: main };
`;

test("deep recursion in a callback is 'stack overflow' with the last device lines, as the board's 512-slot stack overflows", async () => {
  const shallow = await start({ entryCode: RECURSE, config: { depth: "10" } });
  await shallow.advance(100);
  assert.ok(shallow.logs.includes("depth 10"), shallow.logs.join("\n"));
  // 200 calls need about 2,000 slots: within xsnap's 4,096, beyond the board's 512.
  const lane = await start({ entryCode: RECURSE, config: { depth: "200" } });
  await lane.advance(100);
  assert.ok(lane.fatal instanceof FirmwareError);
  assert.match(lane.fatal.message, /^stack overflow \(xsnap exit 12; the board's XS stack is 512 slots/);
  assert.match(lane.fatal.message, /last log lines:\n {2}recursing 200/);
  assert.ok(lane.logs.includes("XS abort: stack overflow"));
  assert.ok(!lane.logs.includes("depth 200"));
  const host = await start({ entryCode: RECURSE, config: { depth: "200" }, limits: "none" });
  await host.advance(100);
  assert.ok(host.logs.includes("depth 200"), "xsnap's own stack holds it: the limit is the board's");
});

test("an overflow while evaluating (a test driving firmware) is 'stack overflow' too", async () => {
  const lane = await start({ entryCode: RECURSE, config: { depth: "0" } });
  await assert.rejects(lane.evaluate("(function down(n) { return n === 0 ? 0 : 1 + down(n - 1); })(200)"), (error: unknown) => {
    assert.ok(error instanceof FirmwareError);
    assert.match(error.message, /^stack overflow/);
    return true;
  });
});

// The stack a callback gets: a probe pushes k slots (Reflect.apply with k arguments) at the top of a
// timer callback and of an evaluation; the largest k that runs is the headroom. On the board it is
// what a bare XS call has with a 512-slot stack: measured in a bare xsnap worker (no bridge, no
// shims), less the slots the board lacks (4,096 - 512), plus the stand-ins' allowance.
const PROBE = `
  import Timer from "timer";
  function leaf() { return 1; }
  const entry = {
    probe(k) { return Reflect.apply(leaf, null, new Uint8Array(k)); },
    arm(k) { Timer.set(() => { entry.probe(k); trace("probed " + k + "\\n"); }, 1); },
  };
  globalThis.__sim.entry = entry;
`;

async function largest(lo: number, hi: number, fits: (k: number) => Promise<boolean>): Promise<number> {
  assert.ok(await fits(lo), `even ${lo} slots do not fit`);
  assert.ok(!(await fits(hi)), `${hi} slots fit`);
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (await fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

test("a timer callback and an evaluation get the board's stack (a bare XS call's headroom with 512 slots), plus the stand-ins' allowance", async () => {
  const bare = await largest(3000, 4096, async (k) => {
    const worker = new XsnapWorker({ onQuery: () => new Uint8Array(0), onOutput: () => {} });
    try {
      await worker.evaluate("globalThis.e = { probe(k) { return Reflect.apply(function () { return 1; }, null, new Uint8Array(k)); } }");
      await worker.evaluate(`globalThis.e.probe(${k})`);
      return true;
    } catch {
      return false;
    } finally {
      await worker.close().catch(() => worker.kill());
    }
  });
  const engineStack = 4096; // xsnap-worker.c's xsCreation.stackCount (the lane reads it from a snapshot)
  const expected = bare - (engineStack - boardCreation().stack) + STANDIN_SLOTS;
  const b = await bundle(PROBE);
  const inTimer = await largest(expected - 48, expected + 48, async (k) => {
    const lane = await XsLane.start({ entryCode: PROBE, bundle: b, boot: false });
    try {
      await lane.evaluate(`globalThis.__sim.entry.arm(${k})`);
      await lane.advance(5);
      return lane.logs.includes(`probed ${k}`);
    } finally {
      await lane.close();
    }
  });
  const inEval = await largest(expected - 48, expected + 48, async (k) => {
    const lane = await XsLane.start({ entryCode: PROBE, bundle: b, boot: false });
    try {
      await lane.evaluate(`globalThis.__sim.entry.probe(${k})`);
      return true;
    } catch (error) {
      assert.match(String(error), /stack overflow/);
      return false;
    } finally {
      await lane.close();
    }
  });
  console.log(`# stack headroom: bare xsnap ${bare}, board ${bare - (engineStack - boardCreation().stack)}, lane timer callback ${inTimer}, lane evaluation ${inEval} (allowance ${STANDIN_SLOTS})`);
  assert.ok(Math.abs(inTimer - expected) <= 2, `timer callback headroom ${inTimer}, expected ${expected}`);
  assert.ok(Math.abs(inEval - expected) <= 2, `evaluation headroom ${inEval}, expected ${expected}`);
});

test("the pad costs the firmware no computrons: the same work meters the same with the board's stack and with xsnap's", async () => {
  const entryCode = `
    import { Encoder } from "./mqtt/encode";
    const encoder = new Encoder();
    const payload = new Uint8Array(100);
    globalThis.__sim.entry = { run() { let n = 0; for (let i = 0; i < 20; i++) n += encoder.encode({ cmd: "publish", topic: "a/b", payload, qos: 1, messageId: i + 1 }).length; return n; } };
  `;
  const b = await bundle(entryCode);
  const computrons = async (limits: "board" | "none"): Promise<number> => {
    const lane = await start({ entryCode, bundle: b, boot: false, limits });
    await lane.evaluate("globalThis.__sim.entry.run()");
    const { compute } = await lane.evaluate("globalThis.__sim.entry.run()");
    await lane.close();
    return compute;
  };
  const board = await computrons("board");
  const host = await computrons("none");
  assert.ok(Math.abs(board - host) <= 4, `board ${board}, xsnap ${host}`);
});
