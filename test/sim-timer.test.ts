// The simulated Moddable timer/time/preference/instrumentation/mc-config modules in the Node lane
// on the virtual clock (Moddable SDK documentation, "Timer": set(callback, interval, repeat),
// repeat, schedule (no interval: unscheduled but kept), clear, delay; "Time": ticks in ms).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import Timer from "timer";
import Time from "time";
import Preference from "preference";
import Instrumentation from "instrumentation";
import config from "mc/config";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { control } from "../tools/sim/host.ts";

after(() => nodeLane.shutdown());

test("Timer.set fires once after its interval, on the virtual clock, with the timer as argument", async () => {
  const start = Time.ticks;
  const fired: number[] = [];
  const t = Timer.set((timer) => {
    assert.equal(timer, t);
    fired.push(Time.ticks - start);
  }, 100);
  await nodeLane.advance(99);
  assert.deepEqual(fired, []);
  await nodeLane.advance(1);
  assert.deepEqual(fired, [100]);
  await nodeLane.advance(1000);
  assert.deepEqual(fired, [100]);
});

test("Timer.set(cb, ms, repeat) and Timer.repeat fire at their period; clear stops them", async () => {
  const start = Time.ticks;
  const a: number[] = [];
  const b: number[] = [];
  const ta = Timer.set(() => a.push(Time.ticks - start), 50, 100);
  const tb = Timer.repeat(() => b.push(Time.ticks - start), 70);
  await nodeLane.advance(300);
  assert.deepEqual(a, [50, 150, 250]);
  assert.deepEqual(b, [70, 140, 210, 280]);
  Timer.clear(ta);
  Timer.clear(tb);
  Timer.clear(undefined);
  await nodeLane.advance(300);
  assert.equal(a.length, 3);
  assert.equal(b.length, 4);
});

test("timers due at the same time fire in the order they were scheduled; callbacks may set timers", async () => {
  const order: string[] = [];
  Timer.set(() => {
    order.push("a");
    Timer.set(() => order.push("a0"), 0);
  }, 10);
  Timer.set(() => order.push("b"), 10);
  Timer.set(() => order.push("c"), 5);
  await nodeLane.advance(10);
  assert.deepEqual(order, ["c", "a", "b", "a0"]);
});

test("Timer.schedule re-arms a timer; schedule without interval leaves it unscheduled", async () => {
  const start = Time.ticks;
  const fired: number[] = [];
  const t = Timer.set(() => fired.push(Time.ticks - start), 1000);
  Timer.schedule(t, 20);
  await nodeLane.advance(25);
  assert.deepEqual(fired, [20]);
  Timer.schedule(t, 10, 10);
  Timer.schedule(t);
  await nodeLane.advance(100);
  assert.deepEqual(fired, [20]);
  Timer.schedule(t, 5);
  await nodeLane.advance(5);
  assert.deepEqual(fired, [20, 130]);
});

test("Timer.delay blocks: the virtual clock moves on by the delay", () => {
  const before = Time.ticks;
  Timer.delay(250);
  assert.equal(Time.ticks - before, 250);
  assert.equal(Time.delta(before), 250);
});

test("Date in the Node lane is the host's (the XS lane makes Date follow the virtual clock)", () => {
  assert.ok(Math.abs(Date.now() - new Date().getTime()) < 1000);
});

test("preference: typed values per domain/key; keys(); delete; board limits (15-char names)", () => {
  Preference.set("app", "n", 42);
  Preference.set("app", "flag", true);
  Preference.set("app", "name", "dev-1");
  Preference.set("app", "blob", Uint8Array.of(1, 2, 255).buffer);
  assert.equal(Preference.get("app", "n"), 42);
  assert.equal(Preference.get("app", "flag"), true);
  assert.equal(Preference.get("app", "name"), "dev-1");
  assert.deepEqual([...new Uint8Array(Preference.get("app", "blob") as ArrayBuffer)], [1, 2, 255]);
  assert.deepEqual(Preference.keys("app"), ["blob", "flag", "n", "name"]);
  Preference.delete("app", "n");
  assert.equal(Preference.get("app", "n"), undefined);
  assert.throws(() => Preference.set("app", "a-key-longer-than-15", 1), /1\.\.15/);
});

test("instrumentation: map/get; Timers counts scheduled timers", () => {
  const timers = Instrumentation.map("Timers");
  const before = Instrumentation.get(timers) ?? 0;
  const t = Timer.set(() => {}, 1000);
  assert.equal(Instrumentation.get(timers), before + 1);
  Timer.clear(t);
  assert.equal(Instrumentation.get(timers), before);
  assert.equal(typeof Instrumentation.get(Instrumentation.map("System Free Memory")), "number");
  assert.equal(Instrumentation.name(timers), "Timers");
});

test("mc/config is the lane's configuration object; named controls run in the lane", () => {
  nodeLane.setConfig({ ssid: "sim", interval: "5" });
  assert.equal(config.ssid, "sim");
  assert.equal(config.interval, "5");
  let last = "";
  control("test.echo", (arg) => {
    last = arg;
    return `got ${arg}`;
  });
  assert.equal(nodeLane.control("test.echo", "down"), "got down");
  assert.equal(last, "down");
  assert.throws(() => nodeLane.control("test.missing"), /no control named/);
});

test("trace: one log line per call, trailing newline dropped", () => {
  const n = nodeLane.log.lines.length;
  trace("hello\n");
  trace("a", 1, true);
  assert.deepEqual(nodeLane.log.lines.slice(n), ["hello", "a1true"]);
});
