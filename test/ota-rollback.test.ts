// A new image that cannot prove itself goes back to the previous one, as ESP-IDF's bootloader does with
// CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: `npm start` (the firmware in XS, the simulator's bootloader
// with the same rules) updates from A to B through the emulator; B boots "pending verify", but the
// MQTT link is refused from the moment the download is verified, so B never connects nor gets a post
// answered. After `otaProve` seconds B restarts without marking itself valid, the bootloader boots A
// again, A tells the platform the upgrade failed (207) and keeps its version, and every reading taken
// on A, on B and on A again reaches the platform once the link is back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startEmulator } from "../tools/emulator/index.ts";
import { untilOta } from "../tools/emulator/testing.ts";
import { buildImage } from "../tools/sim/image.ts";
import { FaultProxy } from "./helpers/fault-proxy.ts";
import { endToEnd, startSim } from "./helpers/sim-start.ts";
import { until } from "./helpers/wait.ts";

const { dir, own } = endToEnd("ota-rollback-");
const DEVICE = { product: "OtaRollbk1", device: "ota-rb-1", key: "b3RhLXJvbGxiYWNrLXRlc3Qta2V5LTAwMDAwMDAwMDE=" };
const PROVE_S = 30;

test(`npm start: an image that cannot prove itself within otaProve=${PROVE_S} s restarts into the previous one, which reports 207`, { timeout: 600_000 }, async () => {
  const imageB = await buildImage("1.1.0");
  const emulator = own(await startEmulator({ host: "127.0.0.1", port: 0, httpPort: 0, devices: [DEVICE], log: () => {} }));
  const mqtt = own(new FaultProxy(emulator.port));
  await mqtt.listen();
  const temps = new Set<number>();
  emulator.events.on("event", (e: { type: string; identifier?: string; time?: number }) => {
    if (e.type === "property" && e.identifier === "temp" && e.time !== undefined) temps.add(e.time);
  });

  let out = "";
  const child = own(startSim(DEVICE, ["host=127.0.0.1", `port=${mqtt.port}`, "tls=0", "interval=2", "otaHost=127.0.0.1", `otaPort=${emulator.httpPort}`, "otaTls=0",
    `otaProve=${PROVE_S}`, `flash=${join(dir, "flash.json")}`, "fresh=1"], (text) => (out += text)));
  const tail = (): string => out.slice(-4000);
  const entry = { product: DEVICE.product, device: DEVICE.device };

  await until(() => temps.size >= 1, "a first reading at the platform", 60_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${tail()}`);
  });
  const task = emulator.startOta(imageB, "1.1.0");
  // Downloaded and verified: from here on the broker is out of reach, so B can never prove itself.
  await untilOta(emulator, entry, (s) => s.tid === task.tid && s.steps.includes(101), 300_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${tail()}`);
  });
  mqtt.refuse(true);
  mqtt.cut();

  await until(() => /booting ota_1: a new image, pending verify.*image version 1\.1\.0/.test(out), "B booted, pending verify", 60_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${tail()}`);
  });
  await until(() => /rollback: ota_1 restarted without marking itself valid; booting ota_0/.test(out), "the bootloader went back to A", (PROVE_S + 60) * 1000).catch((e: Error) => {
    throw new Error(`${e.message}\n${tail()}`);
  });
  const b = out.slice(out.indexOf("booting ota_1: a new image"), out.indexOf("rollback: ota_1"));
  assert.match(b, /config: ok .*version=1\.1\.0/, "B ran");
  assert.match(b, new RegExp(`new image did not prove itself in time: restarting into the previous one version=1\\.1\\.0 seconds=${PROVE_S}`));
  assert.ok(!/marked valid/.test(b), "B never marked itself valid");

  mqtt.refuse(false);
  const state = await untilOta(emulator, entry, (s) => s.tid === task.tid && s.result !== undefined, 120_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${tail()}`);
  });
  assert.equal(state.result, 207, JSON.stringify(state));
  assert.equal(state.version, "1.0.0", "the platform still has A");
  assert.ok(!state.steps.includes(201));
  const a = out.slice(out.indexOf("rollback: ota_1"));
  assert.match(a, /config: ok .*version=1\.0\.0/, "A runs again");
  assert.match(a, /ota: the new image did not stay: back on the previous one running=1\.0\.0 target=1\.1\.0/);

  // Readings taken on A, on B while it could not connect, and on A again all reach the platform.
  const readings = (): number => (out.match(/ INFO app: report (id|temp)=/g) ?? []).length;
  const mark = readings();
  await until(() => temps.size >= mark, `${mark} readings at the platform`, 180_000).catch((e: Error) => {
    throw new Error(`${e.message}: ${temps.size} arrived\n${tail()}`);
  });
  child.kill("SIGINT");
});
