// The device-to-emulator path under link faults: the firmware's OneNetClient (onenet/ on mqtt/ with
// the sim's socket and timer shims) reports through a TCP fault proxy to the local OneNET emulator,
// which enforces the platform's rules. OneNET keeps no session (clean session 1), so anything lost in
// flight must be resent by the device: every report must arrive, and a resent report must keep its
// id and its original time (facts/onenet.md: "the reply's id tells which posts arrived").
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { startEmulator, type EmulatorEvent } from "../tools/emulator/index.ts";
import { OneNetClient } from "../onenet/client.ts";
import { parseConfig } from "../onenet/config.ts";
import { FaultProxy } from "./helpers/fault-proxy.ts";
import { until, sleep } from "./helpers/wait.ts";
import { logTo } from "./portable/logger.ts";

nodeLane.useRealClock();
after(() => nodeLane.shutdown());

const PRODUCT = "FaultPr0d1";
const DEVICE = "dev-faults";
const KEY = Buffer.from("onenet-faults-test-key-987654321").toString("base64");
const REPORTS = 60;
const EPOCH = 1_767_225_600_000; // 2026-01-01T00:00:00Z: the device's clock, stepped per report

test("reports through cut, reset and platform-side disconnects all arrive, resends keep id and time", { timeout: 90_000 }, async () => {
  const emu = await startEmulator({
    devices: [{ product: PRODUCT, device: DEVICE, key: KEY }],
    log: () => {},
    uplinkIntervalMs: 40, // the platform's 1 message/s, shortened on both sides for the test
  });
  const proxy = new FaultProxy(emu.port);
  await proxy.listen();
  const posts: { id: string; time: number }[] = [];
  const values = new Map<number, number[]>(); // uptime value -> times it arrived with
  emu.events.on("event", (e: EmulatorEvent) => {
    if (e.type === "post" && e.device === DEVICE) posts.push({ id: e.id, time: e.time });
    if (e.type === "property" && e.device === DEVICE && e.identifier === "uptime") {
      const list = values.get(e.value as number) ?? [];
      list.push(e.time);
      values.set(e.value as number, list);
    }
  });
  let clock = EPOCH;
  const logs: string[] = [];
  const onenet = new OneNetClient({
    config: parseConfig({ product: PRODUCT, device: DEVICE, key: KEY, host: "127.0.0.1", port: String(proxy.port) }),
    epochMs: () => clock,
    pacingMs: 40,
    log: logTo((level, area, message) => logs.push(`${level} ${area}: ${message}`)),
    mqtt: { reconnectMin: 50, reconnectMax: 400 },
  });
  const faults: string[] = [];
  try {
    onenet.connect();
    await until(() => onenet.online, "login through the proxy");
    for (let n = 1; n <= REPORTS; n++) {
      clock = EPOCH + n * 1000;
      assert.equal(onenet.report({ temp: 20 + n / 10, uptime: n }), String(n), "ids count up per boot");
      await sleep(30);
      if (n === 15) { proxy.cut(); faults.push("cut"); }
      if (n === 20) proxy.dropDownstream(true); // 21 and 22 reach the platform, their PUBACKs do not
      if (n === 22) {
        await until(() => posts.some((p) => p.id === "22"), "report 22 at the platform");
        proxy.cut();
        proxy.dropDownstream(false);
        faults.push("acks lost, then cut");
      }
      if (n === 30) { proxy.reset(); faults.push("reset"); }
      if (n === 45) { emu.disconnect(PRODUCT, DEVICE); faults.push("platform disconnect"); }
      if (n === 50) { proxy.refuse(true); proxy.reset(); faults.push("reset + refused reconnects"); }
      if (n === 54) proxy.refuse(false);
    }
    await until(() => new Set(posts.map((p) => p.id)).size === REPORTS, "every report at the emulator", 60_000);

    assert.ok(proxy.connections >= 6, `each fault cost a connection (${proxy.connections} connections)`);
    const byId = new Map<string, number[]>();
    for (const p of posts) byId.set(p.id, [...(byId.get(p.id) ?? []), p.time]);
    for (let n = 1; n <= REPORTS; n++) {
      const times = byId.get(String(n));
      assert.ok(times, `report ${n} arrived`);
      for (const t of times) assert.equal(t, EPOCH + n * 1000, `report ${n} (sent ${times.length}x) kept its original time`);
      for (const t of values.get(n) ?? []) assert.equal(t, EPOCH + n * 1000, `uptime ${n} kept its time`);
      assert.ok(values.has(n), `uptime ${n} recorded by the platform`);
    }
    assert.equal(onenet.device.stats.refusedByPlatform, 0, logs.join("\n"));
    assert.deepEqual(faults, ["cut", "acks lost, then cut", "reset", "platform disconnect", "reset + refused reconnects"]);
    for (const n of [21, 22]) {
      assert.ok((byId.get(String(n)) ?? []).length >= 2, `report ${n}, taken without an ack, was resent`);
    }
    assert.ok(!logs.some((l) => /onenet-faults-test|version=2018/.test(l)), "no key or token in the log");
  } finally {
    onenet.end();
    await proxy.close();
    await emu.close();
  }
});
