// The simulator's world, not the drivers: the simulated board that `npm start` and the lanes build
// from the configuration keys (sensors=, seed=, sda/scl, ssid/password) through
// tools/sim/devices/world.ts (register-level chips on the simulated bus, the scripted environment,
// the access point), and the named controls tests drive it with. The drivers are tested against this
// world in test/portable/drivers.suite.ts and test/drivers-xs.test.ts.
// Node lane (tools/sim/register.ts installs the host).
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { setWorld, world } from "../tools/sim/devices/world.ts";
import { controlNames } from "../tools/sim/host.ts";

afterEach(() => {
  setWorld(undefined);
  nodeLane.setConfig({});
});

test("sim world: default board: AHT20 at 0x38 and BMP280 at 0x76 on GPIO 21/22, AP named after the ssid key", () => {
  nodeLane.setConfig({ ssid: "home", password: "pw-12345678" });
  const w = world();
  assert.deepEqual(w.bus.addresses(), [0x38, 0x76]);
  assert.equal(w.bus.data, 21);
  assert.equal(w.bus.clock, 22);
  assert.equal(w.accessPoint.ssid, "home");
  assert.equal(w.accessPoint.admits("home", "pw-12345678"), "ok");
  assert.equal(w.accessPoint.admits("home", "wrong"), "bad-password");
  assert.equal(w.accessPoint.admits("other", "pw-12345678"), "no-ap");
});

test("sim world: sensors=, sda=, scl=, seed= configure the simulated bus and environment", () => {
  nodeLane.setConfig({ sensors: "sht3x@0x45,bmp280@0x77", sda: "4", scl: "5", seed: "9" });
  const w = world();
  assert.deepEqual(w.bus.addresses(), [0x45, 0x77]);
  assert.equal(w.bus.data, 4);
  assert.equal(w.environment.seed, 9);
  assert.deepEqual([...w.chips.keys()].sort(), ["bmp280@77", "sht3x@45"]);
  setWorld(undefined);
  nodeLane.setConfig({ sensors: "none" });
  assert.deepEqual(world().bus.addresses(), []);
  setWorld(undefined);
  nodeLane.setConfig({ sensors: "dht22" });
  assert.throws(() => world(), /unknown sensor "dht22"/);
});

test("sim world: named controls: registered names, replies, and errors that list the valid commands", () => {
  nodeLane.setConfig({ sensors: "aht20,bmp280" });
  for (const name of ["wifi.ap", "env", "sensor.aht20", "sensor.sht3x", "sensor.bmp280"]) {
    assert.ok(controlNames().includes(name), `control ${name} registered`);
  }
  assert.match(nodeLane.control("sensor.aht20", "bad-crc 2") ?? "", /badCrc=2/);
  assert.match(nodeLane.control("sensor.aht20", "clear") ?? "", /badCrc=0 stuckBusy=false/);
  assert.match(nodeLane.control("sensor.bmp280", "unplug") ?? "", /plugged=false/);
  assert.throws(() => nodeLane.control("sensor.aht20", "explode"), /nack, bad-crc \[n\], stuck-busy, unplug, plug, clear, status/);
  assert.throws(() => nodeLane.control("sensor.sht3x", "status"), /no sht3x on the simulated bus/);
  assert.match(nodeLane.control("env", "temperature 31") ?? "", /temperature=31\.00/);
  assert.match(nodeLane.control("wifi.ap", "rssi -80") ?? "", /rssi=-80/);
  assert.throws(() => nodeLane.control("wifi.ap", "explode"), /down, up, rssi N/);
});

test("sim world: the wifi.ap status never shows the password", () => {
  nodeLane.setConfig({ ssid: "home", password: "very-secret-password" });
  const reply = nodeLane.control("wifi.ap", "status") ?? "";
  assert.ok(!reply.includes("very-secret-password"), reply);
  assert.match(reply, /password=set/);
});
