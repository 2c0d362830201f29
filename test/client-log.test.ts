// MqttClient's packet log (mqtt/client.ts) against mosquitto in the Node lane: at DEBUG one line per
// MQTT packet sent and received (type, packet id, topic, size; area "mqtt"), never the CONNECT
// password or payload bytes; below DEBUG no packet line and no more than one enabled() check a packet.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { MqttClient } from "../mqtt/client.ts";
import { Log, type Level, type Logger } from "../lib/log.ts";
import { startMosquitto, type Mosquitto } from "./helpers/mosquitto.ts";
import { until } from "./helpers/wait.ts";

nodeLane.useRealClock();

const PASSWORD = "pw-Zq7-never-logged";
const PAYLOAD = "payload-Xk2-never-logged";
const TOPIC = "log/test/up";

let broker: Mosquitto;

before(async () => {
  broker = await startMosquitto();
});

after(async () => {
  await broker.close();
  nodeLane.shutdown();
});

interface Run {
  lines: string[];
  /** enabled("DEBUG") calls. */
  debugChecks: number;
  /** log() calls at DEBUG level, written or not. */
  debugCalls: number;
}

/** Connects, subscribes to TOPIC, publishes one QoS 1 message to it and waits for it back and for its PUBACK. */
async function exchange(level: Level, clientId: string): Promise<Run> {
  const run: Run = { lines: [], debugChecks: 0, debugCalls: 0 };
  const log = new Log({ level, write: (line) => run.lines.push(line) });
  const counting: Logger = {
    log(l, area, message, fields) {
      if (l === "DEBUG") run.debugCalls++;
      log.log(l, area, message, fields);
    },
    enabled(l) {
      if (l === "DEBUG") run.debugChecks++;
      return log.enabled(l);
    },
  };
  const c = new MqttClient({ host: "127.0.0.1", port: broker.port, clientId, username: "device", password: PASSWORD, log: counting });
  let delivered = false;
  let received = false;
  c.onDelivered = () => (delivered = true);
  c.onMessage = () => (received = true);
  c.connect();
  await until(() => c.connected, "CONNACK");
  let subscribed = false;
  c.subscribe(TOPIC, { qos: 1 }, () => (subscribed = true));
  await until(() => subscribed, "SUBACK");
  c.publish(TOPIC, PAYLOAD, { qos: 1 });
  await until(() => delivered && received, "PUBACK and the message back");
  const snapshot = { lines: run.lines.slice(), debugChecks: run.debugChecks, debugCalls: run.debugCalls };
  c.end();
  return snapshot;
}

const packetLines = (lines: string[]): string[] => lines.filter((l) => / DEBUG mqtt: (sent|received) [A-Z]+/.test(l));

test("at DEBUG every packet sent and received is one line: type, id, topic, size; no password, no payload", async () => {
  const run = await exchange("DEBUG", "log-debug");
  const packets = packetLines(run.lines);
  const find = (re: RegExp): string => {
    const line = packets.find((l) => re.test(l));
    assert.ok(line, `${re} in\n${packets.join("\n")}`);
    return line;
  };
  find(/ sent CONNECT size=\d+$/);
  find(/ received CONNACK size=4$/);
  find(/ sent SUBSCRIBE id=\d+ size=\d+$/);
  find(/ received SUBACK id=\d+ size=5$/);
  // 2 + 11 (topic) + 2 (id) + 24 (payload) = 39 remaining, 41 on the wire
  const sent = find(/ sent PUBLISH /);
  assert.match(sent, /^\d+ DEBUG mqtt: sent PUBLISH id=(\d+) topic=log\/test\/up qos=1 size=41$/);
  const id = /id=(\d+)/.exec(sent)![1];
  find(new RegExp(` received PUBACK id=${id} size=4$`));
  find(/ received PUBLISH id=\d+ topic=log\/test\/up qos=1 size=41$/);
  find(/ sent PUBACK id=\d+ size=4$/);
  assert.equal(packets.length, 8, packets.join("\n"));
  for (const line of run.lines) {
    assert.ok(!line.includes(PASSWORD), `password in: ${line}`);
    assert.ok(!line.includes(PAYLOAD), `payload in: ${line}`);
    assert.ok(!/password|\*\*\*/.test(line), `a password field (even masked) in: ${line}`);
  }
  assert.equal(run.debugChecks, packets.length, "one enabled() check per packet");
});

test("at INFO no packet line is built: no DEBUG log call, one enabled() check per packet", async () => {
  const run = await exchange("INFO", "log-info");
  assert.deepEqual(packetLines(run.lines), []);
  assert.equal(run.debugCalls, 0, "no DEBUG line was even formatted");
  // The same exchange as above: 8 packets on the wire.
  assert.equal(run.debugChecks, 8);
  assert.ok(run.lines.some((l) => / INFO mqtt: connected/.test(l)), run.lines.join("\n"));
});
