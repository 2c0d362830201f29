// Wi-Fi flaps with the MQTT client waiting and resuming: the Wi-Fi manager (drivers/wifi.ts) drives
// MqttClient.networkDown()/networkUp() (mqtt/client.ts) as the app does; the simulated access point
// goes away (and the TCP link with it); the client must not try to connect while the network is down,
// must reconnect once Wi-Fi reports gotIP, and no QoS 1 report queued meanwhile may be lost.
// Node lane, real clock (real TCP to an in-process aedes broker), MQTT.js as the subscriber.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import mqtt from "mqtt";
import { Aedes } from "aedes";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { setWorld, World } from "../tools/sim/devices/world.ts";
import WiFiManager from "../drivers/wifi.ts";
import { MqttClient } from "../mqtt/client.ts";
import { until, sleep } from "./helpers/wait.ts";
import { logTo } from "./portable/logger.ts";

nodeLane.useRealClock();
after(() => nodeLane.shutdown());

test("Wi-Fi down: client waits (no connection attempts); Wi-Fi up: client resumes and every QoS 1 report arrives, in order (QoS 1 duplicates tolerated)", async () => {
  const world = new World({ ticks: () => nodeLane.host.ticks(), epoch: () => nodeLane.host.epoch(), sensors: "none", ssid: "lab", password: "pw-12345678" });
  world.accessPoint.associateMs = 20;
  world.accessPoint.dhcpMs = 30;
  world.accessPoint.beaconLossMs = 100;
  world.accessPoint.joinTimeoutMs = 200;
  setWorld(world);

  const aedes = await Aedes.createBroker();
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    aedes.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  const sub = await mqtt.connectAsync({ host: "127.0.0.1", port, protocolVersion: 4, reconnectPeriod: 100 });
  const got: string[] = [];
  sub.on("message", (_t, p) => got.push(p.toString()));
  await sub.subscribeAsync("reports", { qos: 1 });

  const logs: string[] = [];
  const client = new MqttClient({
    host: "127.0.0.1",
    port,
    clientId: "wifi-flap-device",
    keepalive: 30,
    clean: false,
    reconnectMin: 50,
    reconnectMax: 500,
    log: logTo((level, area, message) => logs.push(`${level} ${area}: ${message}`)),
  });
  const wifi = new WiFiManager({ ssid: "lab", password: "pw-12345678", minBackoff: 50, maxBackoff: 400, attemptTimeout: 2000 });
  const seen: boolean[] = [];
  wifi.addListener((up) => {
    seen.push(up);
    if (up) client.networkUp();
    else client.networkDown();
  });
  try {
    client.networkDown(); // nothing before the first gotIP
    client.connect();
    wifi.start();
    await until(() => client.connected, "first MQTT connection after gotIP");
    assert.deepEqual(seen, [true]);

    let n = 0;
    const report = () => client.publish("reports", `r${n++}`, { qos: 1 });
    for (let flap = 0; flap < 3; flap++) {
      for (let i = 0; i < 5; i++) report();
      // The access point goes away, and with it the path to the broker.
      nodeLane.link.blackhole(true);
      nodeLane.control("wifi.ap", "down");
      await until(() => !wifi.up, "Wi-Fi reported down");
      await until(() => !client.connected, "client closed on network down");
      for (let i = 0; i < 5; i++) report(); // queued while down
      const before = connections;
      await sleep(600);
      assert.equal(connections, before, "no connection attempts while the network is down");
      assert.equal(client.connected, false);
      nodeLane.link.blackhole(false);
      nodeLane.control("wifi.ap", "up");
      await until(() => wifi.up, "Wi-Fi back up");
      await until(() => client.connected, "client resumed after gotIP");
    }
    await until(() => got.length >= n, `all ${n} reports at the subscriber`);
    await sleep(200);
    const unique = [...new Set(got)];
    assert.deepEqual(unique, Array.from({ length: n }, (_, i) => `r${i}`), "every report, in order");
    assert.deepEqual(seen, [true, false, true, false, true, false, true]);
    assert.ok(logs.some((l) => l.includes("network down, waiting")));
    assert.ok(logs.some((l) => l.includes("network up, reconnecting")));
  } finally {
    wifi.stop();
    client.end();
    await sub.endAsync(true);
    await new Promise<void>((r) => aedes.close(() => r()));
    server.close();
  }
});
