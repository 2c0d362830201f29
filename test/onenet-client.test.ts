// OneNetClient (onenet/client.ts: the OneNET profile on mqtt/client.ts with the sim's socket, timer
// and time shims, real clock) against the local OneNET emulator (emulator/, built on aedes), which
// enforces the platform's rules (docs/onenet.md): token login, OneJSON checked against
// onenet/thing-model.json, 1 message/s uplink, downlink only on subscribed topics.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { startEmulator } from "../tools/emulator/index.ts";
import { OneNetClient } from "../onenet/client.ts";
import { parseConfig } from "../onenet/config.ts";
import { until } from "./helpers/wait.ts";
import { logTo } from "./portable/logger.ts";

nodeLane.useRealClock();
after(() => nodeLane.shutdown());

const PRODUCT = "Pr0duct01";
const DEVICE = "dev-client";
const KEY = Buffer.from("onenet-client-test-key-012345678").toString("base64");

test("OneNetClient against the emulator: login, reports, property set and get, event, refused login", async () => {
  const emuLog: string[] = [];
  const emu = await startEmulator({ devices: [{ product: PRODUCT, device: DEVICE, key: KEY }], log: (l) => emuLog.push(l) });
  const logs: string[] = [];
  const sets: [string, unknown][] = [];
  let interval = 10;
  const url = new URL(emu.brokerUrl);
  const onenet = new OneNetClient({
    config: parseConfig({ product: PRODUCT, device: DEVICE, key: KEY, host: url.hostname, port: url.port }),
    onSet: (id, value) => {
      sets.push([id, value]);
      if (id === "interval") interval = value as number;
      return true;
    },
    onGet: (id) => (id === "interval" ? interval : undefined),
    log: logTo((level, area, message) => logs.push(`${level} ${area}: ${message}`)),
    mqtt: { reconnectMin: 100, reconnectMax: 1000 },
  });
  try {
    onenet.connect();
    await until(() => onenet.online, "login");
    await until(() => emu.devices()[0]?.subscriptions.length >= 4, "subscriptions at the emulator");
    assert.equal(onenet.report({ temp: 23.5, humi: 41.5, uptime: 3 }), "1");
    assert.equal(onenet.report({ rssi: -61, heap: 51234 }), "2");
    assert.equal(onenet.postEvent("alarm", { code: 1, msg: "test" }), "3");
    await until(() => onenet.device.stats.replies >= 3, "three post replies");
    assert.equal(onenet.device.stats.refusedByPlatform, 0, logs.join("\n"));
    const view = emu.devices()[0];
    assert.equal(view.online, true);
    assert.equal(view.latest.temp?.value, 23.5);
    assert.equal(view.latest.heap?.value, 51234);

    const set = await emu.setProperties(PRODUCT, DEVICE, { interval: 30, led: true });
    assert.equal(set.code, 200, JSON.stringify(set));
    assert.deepEqual(sets, [["interval", 30], ["led", true]]);
    const refused = await emu.setProperties(PRODUCT, DEVICE, { interval: 0 });
    assert.equal(refused.code, 100);
    assert.match(refused.msg ?? "", /interval \(out of range 1\.\.86400\)/);
    const got = await emu.getProperties(PRODUCT, DEVICE, ["interval", "temp"]);
    assert.equal(got.code, 200, JSON.stringify(got));
    assert.deepEqual(got.data, { interval: 30, temp: 23.5 });
    assert.ok(!logs.some((l) => l.startsWith("WARN onenet") && !l.includes("property set id=")), logs.join("\n"));
    assert.ok(!logs.some((l) => /onenet-client-test|version=2018/.test(l)), "no key or token in the log");
  } finally {
    onenet.end();
    await emu.close();
  }

  // a wrong key: the emulator answers CONNACK 4; the client logs what to check and never goes online
  const emu2 = await startEmulator({ devices: [{ product: PRODUCT, device: DEVICE, key: KEY }], log: () => {} });
  const logs2: string[] = [];
  const url2 = new URL(emu2.brokerUrl);
  const bad = new OneNetClient({
    config: parseConfig({ product: PRODUCT, device: DEVICE, key: Buffer.alloc(32, 1).toString("base64"), host: url2.hostname, port: url2.port }),
    log: logTo((level, area, message) => logs2.push(`${level} ${area}: ${message}`)),
  });
  try {
    bad.connect();
    await until(() => logs2.some((l) => l.startsWith("ERROR onenet: login refused code=4")), "refusal logged");
    assert.equal(bad.online, false);
  } finally {
    bad.end();
    await emu2.close();
  }
});
