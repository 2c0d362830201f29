// The readings ring log (store/ring.ts) over the simulator's NOR-flash model
// (tools/sim/modules/embedded/storage/flash.ts): what survives reboots and power cuts, wrap-around, a
// full ring, corruption, and re-basing readings taken before the clock was known.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import FlashStorage, { definePartition, PARTITIONS } from "../tools/sim/modules/embedded/storage/flash.ts";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { emptyReading, ReadingLog, type Overwrite, type StoredReading } from "../store/ring.ts";

const EPOCH = 1_767_225_600_000;
let partitions = 0;

/** A fresh partition of `blocks` 4 KB blocks. */
function fresh(blocks: number): string {
  const name = `t${++partitions}`;
  definePartition(name, blocks * 4096);
  return name;
}

function open(name: string, onOverwrite?: (lost: Overwrite) => void): ReadingLog {
  return new ReadingLog({ flash: FlashStorage.open({ path: name }), onOverwrite });
}

/** Every pending reading, in log order (read in batches, confirmed as read). */
function drain(log: ReadingLog): StoredReading[] {
  const out: StoredReading[] = [];
  const into = Array.from({ length: 100 }, emptyReading);
  for (;;) {
    const n = log.read(into, () => false, () => true);
    if (n === 0) return out;
    for (let i = 0; i < n; i++) {
      out.push({ ...into[i] });
      log.done(into[i].slot);
    }
  }
}

function stats(name: string): { erases: number[]; rewrites: number } {
  return JSON.parse(nodeLane.control("flash.nor", "stats") ?? "{}")[name];
}

test("readings survive a reboot in order, with their values and times; confirmed ones do not come back", () => {
  const name = fresh(4);
  let log = open(name);
  for (let i = 0; i < 10; i++) log.append({ temp: 20 + i / 100, humi: 40.5, press: 1013.25, rssi: -60 }, i * 10_000, EPOCH + i * 10_000);
  assert.equal(log.pending, 10);
  const into = Array.from({ length: 3 }, emptyReading);
  assert.equal(log.read(into, () => false, () => true), 3);
  for (let i = 0; i < 3; i++) log.done(into[i].slot);
  const boot = log.boot;
  log = open(name);
  assert.equal(log.boot, boot + 1, "boot numbers increase");
  assert.equal(log.pending, 7);
  const left = drain(log);
  assert.deepEqual(left.map((r) => r.time), [3, 4, 5, 6, 7, 8, 9].map((i) => EPOCH + i * 10_000));
  assert.deepEqual(left.map((r) => r.temp), [20.03, 20.04, 20.05, 20.06, 20.07, 20.08, 20.09]);
  assert.equal(left[0].humi, 40.5);
  assert.equal(left[0].press, 1013.25);
  assert.equal(left[0].rssi, -60);
  assert.equal(open(name).pending, 0);
  assert.equal(stats(name).rewrites, 0, "each byte programmed once per lap");
});

test("power lost at every byte of a record write: boot recovers, only the record in flight can be lost", () => {
  for (let cut = 0; cut <= 32; cut++) {
    const name = fresh(2);
    let log = open(name);
    for (let i = 0; i < 5; i++) log.append({ temp: i }, 0, EPOCH + i);
    nodeLane.control("flash.nor", `cut write ${cut}`);
    if (cut < 32) assert.throws(() => log.append({ temp: 99 }, 0, EPOCH + 99), /power lost/);
    else log.append({ temp: 99 }, 0, EPOCH + 99);
    nodeLane.control("flash.nor", "ok");
    log = open(name);
    const times = drain(log).map((r) => r.time);
    const kept = cut >= 30; // the check is in bytes 28..29: a record without it is not taken
    assert.deepEqual(times, kept ? [0, 1, 2, 3, 4, 99].map((i) => EPOCH + i) : [0, 1, 2, 3, 4].map((i) => EPOCH + i), `cut after ${cut} bytes`);
    // and the log goes on from there, across another reboot
    log.append({ temp: 7 }, 0, EPOCH + 1000);
    assert.deepEqual(drain(open(name)).map((r) => r.time), [EPOCH + 1000], `cut after ${cut} bytes: next append`);
  }
});

test("power lost at every point of a block erase: boot recovers, the erase is redone, nothing pending is lost but the block being erased", () => {
  for (let cut = 0; cut <= 4096; cut += cut < 64 ? 1 : 128) {
    const name = fresh(3);
    let log = open(name);
    // 1 boot record + 127 readings fill block 0; the next append erases block 1 (empty, fresh flash)
    // on the first lap, so run a lap first to make block 1 hold data when it is erased again.
    for (let i = 0; i < 127 + 128 + 128; i++) log.append({ temp: 1 }, 0, EPOCH + i);
    const lost = log.stats.overwritten;
    const before = log.pending;
    nodeLane.control("flash.nor", `cut erase ${cut}`);
    assert.throws(() => log.append({ temp: 2 }, 0, EPOCH + 10_000), /power lost/);
    nodeLane.control("flash.nor", "ok");
    log = open(name);
    const times = drain(log).map((r) => r.time!);
    const sorted = [...times].sort((a, b) => a - b);
    assert.deepEqual(times, sorted, `cut at ${cut}: in time order`);
    assert.equal(new Set(times).size, times.length, `cut at ${cut}: no reading twice`);
    // the block under erase held the oldest lap: those may go (counted), the rest are all there
    assert.ok(times.length >= before - 128 && times.length <= before, `cut at ${cut}: ${times.length} of ${before} (lost before: ${lost})`);
    assert.equal(times.at(-1), EPOCH + 127 + 128 + 128 - 1, `cut at ${cut}: the newest reading is kept`);
    log.append({ temp: 3 }, 0, EPOCH + 20_000);
    assert.deepEqual(drain(open(name)).map((r) => r.time), [EPOCH + 20_000], `cut at ${cut}: appends go on`);
  }
});

test("wrap-around and a full ring: the oldest readings go first, counted, one report per block erased", () => {
  const name = fresh(3);
  const lost: Overwrite[] = [];
  const log = open(name, (l) => lost.push(l));
  assert.equal(log.stats.capacity, 256);
  const total = 1000;
  for (let i = 0; i < total; i++) log.append({ temp: i / 100 }, 0, EPOCH + i * 10_000);
  const left = drain(log);
  // what remains is the newest, contiguous, in order
  const first = total - left.length;
  assert.deepEqual(left.map((r) => r.time), Array.from({ length: left.length }, (_, k) => EPOCH + (first + k) * 10_000));
  assert.ok(left.length >= 256, `at least the capacity is kept: ${left.length}`);
  const count = lost.reduce((n, l) => n + l.count, 0);
  assert.equal(count, first, "every overwritten reading counted");
  assert.equal(log.stats.overwritten, first);
  assert.equal(lost[0].from, EPOCH, "the first loss starts at the oldest reading");
  for (const l of lost) assert.ok(l.count <= 128 && l.from! <= l.to!);
  // confirmed readings are not counted as lost when the ring laps them
  const quiet: Overwrite[] = [];
  const again = open(name, (l) => quiet.push(l));
  for (let i = 0; i < 600; i++) {
    const slot = again.append({ temp: 1 }, 0, EPOCH + i);
    again.done(slot);
  }
  assert.equal(quiet.length, 0);
  const s = stats(name);
  assert.equal(s.rewrites, 0, "each byte programmed once per lap");
  const laps = s.erases.reduce((a, b) => a + b, 0);
  assert.ok(Math.max(...s.erases) - Math.min(...s.erases) <= 1, `erases spread evenly: ${s.erases}`);
  assert.ok(laps <= Math.ceil((total + 600 + 2) / 128) + 1, `one erase per 128 records: ${laps}`);
});

test("a corrupt record or block is skipped and counted; the rest is read", () => {
  const name = fresh(4);
  const log = open(name);
  for (let i = 0; i < 300; i++) log.append({ temp: 1 }, 0, EPOCH + i);
  // record 10 of block 0 (the boot record is slot 0, so reading 9), and all of block 1
  nodeLane.control("flash.nor", `poke ${name} ${10 * 32 + 17} 77`);
  nodeLane.control("flash.nor", `poke ${name} 4096 ${"00".repeat(4096)}`);
  const again = open(name);
  assert.ok(again.stats.corrupt >= 129, `corrupt counted: ${again.stats.corrupt}`);
  const times = drain(again).map((r) => r.time! - EPOCH);
  const expected = Array.from({ length: 300 }, (_, i) => i).filter((i) => i !== 9 && !(i >= 127 && i < 255));
  assert.deepEqual(times, expected);
});

test("record check: FNV-1a over the first 28 bytes as little-endian words, as records already in flash were written", () => {
  const name = fresh(2);
  const log = open(name);
  log.append({ temp: -12.34, humi: 56.78, press: 1001.5, rssi: -70 }, 1234, EPOCH + 5);
  log.append({ temp: 21 }, 99_000, undefined);
  const flash = FlashStorage.open({ path: name });
  for (let slot = 0; slot < 3; slot++) {
    const bytes = new Uint8Array(32);
    flash.read(bytes, slot * 32);
    const v = new DataView(bytes.buffer);
    let h = 0x811c9dc5;
    for (let i = 0; i < 28; i += 4) h = Math.imul(h ^ v.getUint32(i, true), 0x01000193);
    let c = (h ^ (h >>> 16)) & 0xffff;
    if (c === 0xffff) c = 0xfffe;
    assert.equal(v.getUint16(28, true), c, `slot ${slot}`);
  }
  assert.equal(open(name).pending, 2, "and boot trusts them");
});

test("readings without a clock are re-based when it is known, also after a reboot; an earlier boot that never knew it loses them, counted", () => {
  const name = fresh(4);
  // boot A: offline without a clock, then the reboot; nothing can ever date these two
  let log = open(name);
  log.append({ temp: 1 }, 1000, undefined);
  log.append({ temp: 2 }, 2000, undefined);
  // boot B: two readings before the clock is known, the clock, then a reboot before they were sent
  log = open(name);
  log.append({ temp: 3 }, 5000, undefined);
  log.append({ temp: 4 }, 15_000, undefined);
  const into = Array.from({ length: 10 }, emptyReading);
  assert.equal(log.read(into, () => false, () => true), 0, "this boot's undated readings wait for the clock");
  assert.equal(log.stats.timeless, 2, "boot A's readings dropped, counted, never sent");
  log.setClock(20_000, EPOCH + 20_000);
  log.append({ temp: 5 }, 25_000, EPOCH + 25_000);
  // boot C
  log = open(name);
  const got = drain(log);
  assert.deepEqual(got.map((r) => [r.temp, r.time]), [[3, EPOCH + 5000], [4, EPOCH + 15_000], [5, EPOCH + 25_000]]);
});

test("the simulator's partition table is the project's partitions.csv", () => {
  const csv = readFileSync(new URL("../partitions.csv", import.meta.url), "utf8");
  const data: Record<string, number> = {};
  let end = 0;
  for (const line of csv.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const [name, type, , offset, size] = line.split(",").map((f) => f.trim());
    end = Math.max(end, Number(offset) + Number(size));
    if (type === "data" && !["nvs", "ota", "phy"].includes(line.split(",")[2].trim())) data[name] = Number(size);
  }
  assert.deepEqual(data, PARTITIONS);
  assert.ok(end <= 4 * 1024 * 1024, "fits 4 MB of flash");
  // capacity in the default layout: more than a day at 10 s
  assert.ok((PARTITIONS.readings / 4096 - 1) * 128 >= 10_000);
});
