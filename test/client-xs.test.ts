// The MQTT client inside the real XS engine (sim/xs-lane.ts: xsnap, host-bridged TCP, preference
// storage kept across a reboot) against mosquitto, MQTT.js counting at the broker. A stream of QoS 1
// messages with the board rebooted mid-stream while the link holds messages unacknowledged: once the
// outbox has stored them (online it stores a message that waited persistAfter unacknowledged),
// nothing the client accepted is lost.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { XsLane } from "../tools/sim/xs-lane.ts";
import { startMosquitto, type Mosquitto } from "./helpers/mosquitto.ts";
import { until } from "./helpers/wait.ts";

const N = 400;
const ENTRY = `
  import { MqttClient } from "./mqtt/client";
  import { Outbox } from "./mqtt/outbox";
  import { PreferenceStorage } from "./mqtt/storage";
  import Preference from "preference";
  import Timer from "timer";
  import config from "mc/config";
  function main() {
    const outbox = new Outbox({ storage: new PreferenceStorage("xs-outbox", 64), maxMessages: 64, maxBytes: 8192, persistAfter: 300 });
    const client = new MqttClient({ host: "127.0.0.1", port: Number(config.port), clientId: "xs-dev", outbox,
      keepalive: 30, reconnectMin: 100, reconnectMax: 1000,
      log: { log: (level, area, message) => trace(level + " " + area + ": " + message + "\\n"), enabled: () => true } });
    trace("boot outbox=" + outbox.length + "\\n"); // loaded when the client binds it to its identity
    let next = Preference.get("xs-app", "next") ?? 0;
    client.connect();
    Timer.repeat(() => {
      if (next >= ${N}) return;
      // Accepted by the outbox (persisted) means promised: the app moves on.
      if (client.publish("xs/q1", String(next), { qos: 1 }) > 0) Preference.set("xs-app", "next", ++next);
    }, 5);
  }
  globalThis.__sim.entry = { default: main }; // the lane calls the entry's default at boot, as Moddable calls main
`;

let broker: Mosquitto;
const lanes: XsLane[] = [];
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  for (const lane of lanes) await lane.close();
  await broker.close();
});

test("XS lane: reboot mid-stream with messages held unacknowledged; every accepted QoS 1 message arrives", async () => {
  const sub = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, protocolVersion: 4 });
  const counts = new Map<string, number>();
  sub.on("message", (_t, p) => counts.set(p.toString(), (counts.get(p.toString()) ?? 0) + 1));
  await sub.subscribeAsync("xs/q1", { qos: 1 });
  try {
    let lane = await XsLane.start({ entryCode: ENTRY, clock: "real", config: { port: String(broker.port) } });
    lanes.push(lane);
    await until(() => counts.size >= 100, "100 messages from the first boot");
    lane.link.blackhole(true); // acknowledgements stop: messages pile up in the outbox until it is full
    await until(() => lane.logs.some((l) => l.includes("outbox: full")), "the outbox full");
    // Online, messages are stored once they waited persistAfter: wait for all 64 records in flash.
    await until(() => lane.storage.keys("pref/xs-outbox/").length === 64, "the held messages stored");
    lane = await lane.reboot(); // power cut: same flash (preference storage), fresh engine
    lanes.push(lane);
    await until(() => lane.logs.some((l) => /boot outbox=\d+/.test(l)), "second boot");
    const held = Number(/boot outbox=(\d+)/.exec(lane.logs.find((l) => /boot outbox=/.test(l))!)![1]);
    assert.ok(held > 0, "messages were waiting in the persisted outbox at the reboot");
    if (process.env.MQTT_FAULT_LOG) console.log(`# held at reboot: ${held}`);
    await until(() => counts.size === N, `all ${N} messages`, 60000).catch((e: Error) => {
      const missing = Array.from({ length: N }, (_, i) => String(i)).filter((k) => !counts.has(k));
      throw new Error(`${e.message}: missing ${missing.length}: ${missing.slice(0, 10).join(",")}\n${lane.logs.slice(-20).join("\n")}`);
    });
    for (let i = 0; i < N; i++) assert.ok(counts.has(String(i)), `message ${i}`);
    if (lane.fatal) throw lane.fatal;
  } finally {
    await sub.endAsync(true);
  }
});
