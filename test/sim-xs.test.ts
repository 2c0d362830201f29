// The XS lane itself: firmware (sim/fixtures/echo.ts, written like the app) bundled and run in the
// real XS engine with the simulated Moddable modules, a real TCP peer, the virtual clock, storage that
// survives a reboot, source-mapped firmware errors, and the suite runner failing what fails in XS.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server, type Socket as NetSocket } from "node:net";
import { XsLane, FirmwareError } from "../tools/sim/xs-lane.ts";
import { XsSuiteRunner } from "../tools/sim/xs-suites.ts";
import { registeredCases } from "./portable/harness.ts";

const dir = mkdtempSync(join(tmpdir(), "sim-xs-"));
const lanes: XsLane[] = [];
const servers: Server[] = [];
after(async () => {
  for (const lane of lanes) await lane.close();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function lineServer(onLine: (conn: NetSocket, line: string) => void): Promise<{ port: number; conns: NetSocket[] }> {
  const conns: NetSocket[] = [];
  const server = createServer((c) => {
    conns.push(c);
    c.on("error", () => {});
    let buf = "";
    c.setEncoding("utf8");
    c.on("data", (d: string) => {
      buf += d;
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        onLine(c, buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as { port: number }).port, conns };
}

test("firmware boots in XS: mc/config, Date on the virtual clock (2026-01-01T00:00:00Z), board-absent globals removed", async () => {
  const lane = await XsLane.start({ entry: "tools/sim/fixtures/echo.ts", config: { device: "dev-a" } });
  lanes.push(lane);
  assert.match(lane.logs[0], /^boot 1 device=dev-a free=\d+ date=2026-01-01T00:00:00.000Z$/);
  const { value } = await lane.query(
    "[typeof TextEncoder, typeof TextDecoder, typeof Base64, typeof print, typeof setImmediate, typeof issueCommand, typeof trace].join()",
  );
  assert.equal(value, "undefined,undefined,undefined,undefined,undefined,undefined,function");
  assert.ok(lane.bootMeter.compute > 0 && lane.bootMeter.currentHeapCount > 0);
  await lane.close();
});

test("Date follows the virtual clock and Time.set; Time.ticks is ms since boot", async () => {
  const lane = await XsLane.start({
    entryCode: `import Time from "time"; import Timer from "timer";
      globalThis.__sim.entry = { Time, Timer };`,
    boot: false,
  });
  lanes.push(lane);
  await lane.advance(90_000);
  const t1 = await lane.query("[globalThis.__sim.entry.Time.ticks, new Date().toISOString(), Date.now()].join()");
  assert.equal(t1.value, `90000,2026-01-01T00:01:30.000Z,${Date.UTC(2026, 0, 1, 0, 1, 30)}`);
  await lane.evaluate("globalThis.__sim.entry.Time.set(1800000000)");
  await lane.advance(1000);
  const t2 = await lane.query("[globalThis.__sim.entry.Time.ticks, new Date().toISOString(), new Date(0).getTime()].join()");
  assert.equal(t2.value, "91000,2027-01-15T08:00:01.000Z,0");
  await lane.close();
});

test("virtual clock: timers fire exactly at their times; same seed, same run", async () => {
  const runs: string[][] = [];
  for (let i = 0; i < 2; i++) {
    const lane = await XsLane.start({ entry: "tools/sim/fixtures/echo.ts", config: { device: "d", interval: "300" } });
    lanes.push(lane);
    await lane.advance(1000);
    const { value } = await lane.query("Math.random()");
    runs.push([...lane.logs.slice(1), value, new Date(0).toISOString()]);
    await lane.close();
  }
  assert.deepEqual(runs[0].slice(0, 3), ["tick 300", "tick 600", "tick 900"]);
  assert.deepEqual(runs[0], runs[1]);
});

test("TCP through the bridge: connect, write, segmented reads, a named control, peer hangup", async () => {
  const peer = await lineServer((c, line) => {
    if (line.startsWith("hello ")) c.write("one\ntwo\n");
  });
  const lane = await XsLane.start({ entry: "tools/sim/fixtures/echo.ts", config: { device: "dev-b", port: String(peer.port) } });
  lanes.push(lane);
  await lane.waitFor(() => lane.logs.includes("line two (8)"), 10_000, "two lines echoed");
  assert.ok(lane.logs.includes("connected free=5744"));
  assert.equal(await lane.control("echo.say", "ping"), "ok");
  await lane.waitFor(() => lane.logs.filter((l) => l === "writable 5744").length >= 2, 10_000, "writable after ack");
  await assert.rejects(lane.control("no.such"), /no control named "no.such"/);
  peer.conns[0].end();
  await lane.waitFor(() => lane.logs.includes("disconnected"), 10_000, "disconnect");
  assert.ok(lane.link.stats.bytesOut >= "hello dev-b\necho:one\necho:two\nping\n".length);
  await lane.close();
});

test("link reset and blackhole reach the firmware as the board would see them", async () => {
  const peer = await lineServer(() => {});
  const lane = await XsLane.start({ entry: "tools/sim/fixtures/echo.ts", config: { device: "d", port: String(peer.port) } });
  lanes.push(lane);
  await lane.waitFor(() => lane.logs.includes("writable 5744"), 10_000, "hello acknowledged");
  lane.link.blackhole(true);
  assert.equal(await lane.control("echo.say", "x".repeat(100)), "ok");
  await lane.advance(5000);
  assert.equal(lane.logs.filter((l) => l === "writable 5744").length, 1, "nothing acknowledged while blackholed");
  lane.link.blackhole(false);
  lane.link.reset();
  await lane.waitFor(() => lane.logs.includes("error"), 10_000, "error after reset");
  await lane.close();
});

test("reboot keeps storage: the boot counter in preference goes 1, 2 (file-backed)", async () => {
  const storagePath = join(dir, "flash.json");
  const first = await XsLane.start({ entry: "tools/sim/fixtures/echo.ts", storagePath, config: { device: "d" } });
  lanes.push(first);
  assert.match(first.logs[0], /^boot 1 /);
  const second = await first.reboot();
  lanes.push(second);
  assert.match(second.logs[0], /^boot 2 /);
  await second.close();
  const third = await XsLane.start({ entry: "tools/sim/fixtures/echo.ts", storagePath, config: { device: "d" } });
  lanes.push(third);
  assert.match(third.logs[0], /^boot 3 /);
  await third.close();
});

test("an exception at boot is a FirmwareError with the XS stack mapped to the .ts module and line", async () => {
  await assert.rejects(
    XsLane.start({ entry: "tools/sim/fixtures/echo.ts", config: { crash: "boot" } }),
    (error: unknown) => {
      assert.ok(error instanceof FirmwareError);
      assert.match(error.message, /cannot coerce undefined to object/);
      assert.match(error.xsStack, /at main \(tools\/sim\/fixtures\/echo\.ts:\d+\)/);
      return true;
    },
  );
});

test("an exception in a socket callback stops the lane with the firmware's stack", async () => {
  const peer = await lineServer((c, line) => {
    if (line.startsWith("hello ")) c.write("crash\n");
  });
  const lane = await XsLane.start({ entry: "tools/sim/fixtures/echo.ts", config: { device: "d", port: String(peer.port) } });
  lanes.push(lane);
  await lane.waitFor(() => lane.fatal !== undefined, 10_000, "fatal").catch(() => {});
  assert.ok(lane.fatal instanceof FirmwareError);
  assert.match(lane.fatal.message, /crash requested/);
  assert.match(lane.fatal.xsStack, /sim\/fixtures\/echo\.ts:\d+/);
  await lane.close();
});

test("the XS suite runner fails a case that passes on Node but not in XS, and a case that fails everywhere", async () => {
  await import("../tools/sim/fixtures/bad.suite.ts");
  const nodeCase = registeredCases().find((c) => c.suite === "fixture" && c.name.startsWith("uses TextEncoder"));
  assert.ok(nodeCase);
  nodeCase.run(); // passes on Node
  const runner = await XsSuiteRunner.start(["tools/sim/fixtures/bad.suite.ts"]);
  try {
    assert.deepEqual(runner.cases.map((c) => c.name), ["passes everywhere", "uses TextEncoder (Node only)", "fails everywhere"]);
    const results = [await runner.run(0), await runner.run(1), await runner.run(2)];
    assert.equal(results[0].ok, true);
    assert.equal(results[1].ok, false);
    assert.match(results[1].error ?? "", /TextEncoder/);
    assert.equal(results[2].ok, false);
    assert.match(results[2].error ?? "", /1 !== 2/);
    assert.match(results[2].error ?? "", /sim\/fixtures\/bad\.suite\.ts:\d+/);
  } finally {
    await runner.close();
  }
});

test("a suite that cannot load in XS rejects with the XS error mapped to the suite's line", async () => {
  await assert.rejects(XsSuiteRunner.start(["tools/sim/fixtures/broken.suite.ts"]), (error: unknown) => {
    assert.ok(error instanceof FirmwareError);
    assert.match(error.message, /TextEncoder/);
    assert.match(error.xsStack, /sim\/fixtures\/broken\.suite\.ts:\d+/);
    return true;
  });
});

test("the lane itself holds no memory per event: 2000 timer wake-ups with host calls leave the heap slots unchanged", async () => {
  const lane = await XsLane.start({
    entryCode: `import Timer from "timer"; import Time from "time"; import Preference from "preference";
      let n = 0;
      Timer.repeat(() => { n++; trace("tick " + Time.ticks); Preference.set("t", "n", n); }, 1000);
      globalThis.__sim.entry = {};`,
    boot: false,
  });
  lanes.push(lane);
  await lane.advance(100_000);
  const before = await lane.heapSlots();
  await lane.advance(2_000_000);
  const after = await lane.heapSlots();
  assert.equal(lane.logs.length, 2100);
  assert.equal(after, before, `slots ${before} -> ${after}`);
  await lane.close();
});
