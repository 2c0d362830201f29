// Store and forward end to end, in the real XS engine on the virtual clock: the app (main.ts) with the
// simulated Wi-Fi, sensors and NOR flash against the OneNET emulator (on a virtual clock advanced with
// the device's). Twelve hours without Wi-Fi at a 10 s interval, with two reboots in the middle: every
// reading reaches the platform exactly once, back-filled in time order at its own time, while live
// reports go on; the whole uplink stays within 1 message/s.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { XsLane } from "../tools/sim/xs-lane.ts";
import { Storage } from "../tools/sim/storage.ts";
import { VIRTUAL_EPOCH } from "../tools/sim/clock.ts";
import { startEmulator, VirtualClock, type Emulator } from "../tools/emulator/index.ts";

const DEVICE = { product: "StoreTest01", device: "store-device", key: "c3RvcmUteHMtdGVzdC1kZXZpY2Uta2V5LTAwMDAwMDE=" };
const HOUR = 3_600_000;

const lanes: XsLane[] = [];
const emulators: Emulator[] = [];
after(async () => {
  for (const lane of lanes) await lane.close();
  for (const e of emulators) await e.close();
});

test("12 hours offline at 10 s with two reboots: every reading arrives once, in time order, at its own time; live reports go on while the backlog drains", async () => {
  const emuClock = new VirtualClock(VIRTUAL_EPOCH);
  const emulator = await startEmulator({ host: "127.0.0.1", port: 0, httpPort: 0, devices: [DEVICE], log: () => {}, clock: emuClock });
  emulators.push(emulator);
  const points = new Map<number, number>(); // temp time -> times received
  const backfilled: number[] = []; // temp times of history values, in arrival order
  const live: number[] = []; // temp times of live posts, in arrival order
  let historyPosts = 0;
  emulator.events.on("event", (e: { type: string; identifier?: string; time?: number; backfill?: true }) => {
    if (e.type === "history") historyPosts++;
    if (e.type !== "property" || e.identifier !== "temp" || e.time === undefined) return;
    points.set(e.time, (points.get(e.time) ?? 0) + 1);
    (e.backfill ? backfilled : live).push(e.time);
  });
  // Posts on the wire (the MQTT client's outbox resends too) and their replies, from the device's debug lines: the lane is settled
  // when every post sent has been answered.
  let sent = 0;
  let answered = 0;
  let readings = 0;
  const sendTimes: number[] = [];
  let lane: XsLane;
  const onLog = (line: string): void => {
    if (/ DEBUG mqtt: sent PUBLISH .*topic=\S+\/thing\/\w+\/post /.test(line)) {
      sent++;
      sendTimes.push(lane.clock.now());
    } else if (/ DEBUG mqtt: received PUBLISH topic=\S+\/thing\/\w+\/post\/reply /.test(line)) answered++;
    else if (/ INFO app: report .*temp=/.test(line)) readings++;
  };
  const config = { ssid: "sim-ap", password: "store-wifi-pw", ...DEVICE, host: "127.0.0.1", port: String(emulator.port), tls: "0", interval: "10", loglevel: "debug" };
  const storage = new Storage();
  lane = await XsLane.start({ entry: "main.ts", config, storage, onLog });
  lanes.push(lane);
  /** One virtual second for device and platform, then the round trips it started. */
  const step = async (ms = 1000): Promise<void> => {
    await lane.advance(ms);
    emuClock.advance(ms);
    await lane.waitFor(() => answered >= sent, 10_000, `replies to ${sent} posts (${answered} so far)`).catch((e) => {
      console.log(lane.logs.filter((l) => / (onenet|store|mqtt|app|wifi):/.test(l)).slice(-40).join("\n"));
      throw e;
    });
  };
  const reboot = async (): Promise<void> => {
    sent = answered = 0;
    lane = await lane.reboot();
    lanes.push(lane);
    await lane.control("wifi.ap", "down");
  };

  for (let i = 0; i < 60 && live.length === 0; i++) await step();
  assert.ok(live.length > 0, "a first live reading");
  await step(20_000);

  await lane.control("wifi.ap", "down");
  const outageFrom = lane.clock.epoch();
  for (let part = 0; part < 3; part++) {
    if (part > 0) await reboot();
    await lane.advance(4 * HOUR);
    emuClock.advance(4 * HOUR);
  }
  const offline = readings;
  assert.ok(lane.logs.some((l) => / INFO store: readings log boot=\d+ pending=\d{3,}/.test(l)), "the backlog survived the reboots");

  sent = answered = 0; // what was on the wire when the link went, went with it
  await lane.control("wifi.ap", "up");
  const back = lane.clock.epoch();
  const liveBefore = live.length;
  sendTimes.length = 0;
  let drainedAt = -1;
  for (let s = 0; s < 900; s++) {
    await step();
    if (points.size >= readings - 1 && backfilled.length > 0) {
      drainedAt = s;
      break;
    }
  }
  assert.ok(drainedAt > 0, `drained: ${points.size} of ${readings} readings at the platform`);
  await step(20_000);

  // every reading exactly once
  assert.equal(points.size, readings, "one point per reading");
  for (const [time, n] of points) assert.equal(n, 1, `reading at ${new Date(time).toISOString()} arrived once`);
  // back-filled in time order, and at their own times: 10 s apart within a boot
  for (let i = 1; i < backfilled.length; i++) assert.ok(backfilled[i] > backfilled[i - 1], "history in time order");
  const times = [...points.keys()].sort((a, b) => a - b);
  const tenSeconds = times.slice(1).filter((t, i) => t - times[i] === 10_000).length;
  assert.ok(tenSeconds >= times.length - 8, `${tenSeconds} of ${times.length} gaps are the 10 s interval`);
  assert.ok(backfilled.length >= offline - 10 && backfilled.some((t) => t < outageFrom + HOUR), "the outage was back-filled");
  // live reports continued while the backlog drained
  assert.ok(live.slice(liveBefore).some((t) => t > back && t < backfilled.at(-1)! + 20_000), "live while draining");
  // within 1 message/s, on the device's clock
  for (let i = 1; i < sendTimes.length; i++) assert.ok(sendTimes[i] - sendTimes[i - 1] >= 1000, "1 message/s");
  assert.ok(historyPosts < offline / 30, `${historyPosts} history posts for ${offline} readings`);
  assert.ok(drainedAt < 180, `a half day drained in ${drainedAt} s`);
  assert.equal(lane.fatal, undefined);
});
