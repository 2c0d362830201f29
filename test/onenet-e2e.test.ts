// End to end over real TCP: the OneNET device profile (onenet/device.ts) on our MQTT stack
// (mqtt/encode, mqtt/decode, mqtt/session, driven by a small node:net binding below) against aedes,
// with MQTT.js acting as the platform: it checks the CONNECT token with node:crypto (docs/onenet.md
// "Token"), enforces the platform's publish rules (QoS <= 1, no retain, own `$sys/{pid}/{device}/`
// space), answers property posts (200, or 309 for an identifier outside the thing model), sends a
// property set and a property get, and watches the device's replies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Socket, type Server, type AddressInfo } from "node:net";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { encode } from "../mqtt/encode.ts";
import { Decoder } from "../mqtt/decode.ts";
import { Session } from "../mqtt/session.ts";
import { OneNetDevice, type ReplyInfo } from "../onenet/device.ts";
import { parseConfig } from "../onenet/config.ts";
import { SILENT } from "../lib/log.ts";
import { logTo } from "./portable/logger.ts";
import { FaultProxy } from "./helpers/fault-proxy.ts";
import { until } from "./helpers/wait.ts";

const PRODUCT = "Pr0duct01";
const DEVICE = "dev-1";
const KEY_BYTES = Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex");
const KEY = KEY_BYTES.toString("base64");
const PREFIX = `$sys/${PRODUCT}/${DEVICE}/`;
const thingModel = JSON.parse(readFileSync(new URL("../onenet/thing-model.json", import.meta.url), "utf8")) as {
  properties: { identifier: string }[];
};
const KNOWN = new Set(thingModel.properties.map((p) => p.identifier));

/** The platform's token check, written from the documentation, independent of onenet/token.ts. */
function tokenValid(username: string | undefined, clientId: string, password: Buffer | undefined): boolean {
  if (!password || username !== PRODUCT || clientId !== DEVICE) return false;
  const q = new URLSearchParams(password.toString("utf8"));
  const res = q.get("res");
  const method = q.get("method");
  const et = q.get("et");
  if (q.get("version") !== "2018-10-31" || res !== `products/${PRODUCT}/devices/${DEVICE}` || !et || !method) return false;
  if (Number(et) * 1000 < Date.now() || !["md5", "sha1", "sha256"].includes(method)) return false;
  const sign = createHmac(method, KEY_BYTES).update(`${et}\n${method}\n${res}\n2018-10-31`).digest("base64");
  return q.get("sign") === sign;
}

interface Platform {
  port: number;
  connects: { clientId: string; clean: boolean; keepalive: number; will: boolean }[];
  subscriptions: string[];
  violations: string[];
  /** Closes the device's connection from the broker side. */
  dropDevice(): void;
  close(): Promise<void>;
}

async function startPlatform(): Promise<Platform> {
  const broker = await Aedes.createBroker();
  const p: Platform = { port: 0, connects: [], subscriptions: [], violations: [], dropDevice: () => {}, close: async () => {} };
  let deviceConn: Socket | undefined;
  broker.preConnect = (client, packet, done) => {
    if (packet.clientId !== "platform") {
      p.connects.push({ clientId: packet.clientId, clean: packet.clean === true, keepalive: packet.keepalive ?? -1, will: !!packet.will });
      deviceConn = client.conn as Socket;
    }
    done(null, true);
  };
  broker.authenticate = (client, username, password, done) => {
    if (client.id === "platform") return done(null, true);
    const ok = tokenValid(username, client.id, password);
    if (!ok) {
      const err = new Error("bad token") as Error & { returnCode: number };
      err.returnCode = 4;
      return done(err, false);
    }
    done(null, true);
  };
  broker.authorizePublish = (client, packet, done) => {
    if (!client || client.id === "platform") return done(null);
    if (packet.qos === 2 || packet.retain || !packet.topic.startsWith(PREFIX)) {
      p.violations.push(`${packet.topic} qos=${packet.qos} retain=${packet.retain}`);
      return done(new Error("platform rule"));
    }
    done(null);
  };
  broker.on("subscribe", (subs, client) => {
    if (client && client.id !== "platform") for (const s of subs) p.subscriptions.push(s.topic);
  });
  const server: Server = createServer(broker.handle);
  p.dropDevice = () => deviceConn?.destroy();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  p.port = (server.address() as AddressInfo).port;
  p.close = async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return p;
}

/** Binds a sans-I/O Session and the OneNET profile to node:net and real time (host-side test driver). */
function runDevice(device: OneNetDevice, port: number) {
  const opts = device.connectOptions();
  const session = new Session({
    clientId: opts.clientId,
    username: opts.username,
    password: opts.password,
    clean: opts.clean,
    keepalive: opts.keepalive,
    reconnectMin: 200,
  });
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  let socket: Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  // When each publish was handed over, on the clock the device paces by (the `now` it was serviced
  // with): a second performance.now() taken inside publish would add the host's own pauses to the gap.
  const sentAt: number[] = [];
  let deviceNow = 0;
  /** Control packets the device wrote, in order ("connect", "subscribe", "publish", ...). */
  const wrote: string[] = [];
  /** CONNACK return codes of refused logins, as the session reported them. */
  const refused: number[] = [];
  const write = (packet: Parameters<typeof encode>[0]): void => {
    if (!socket) return;
    wrote.push(packet.cmd);
    socket.write(encode(packet));
  };
  (device as unknown as { linkSentAt: number[] }).linkSentAt = sentAt;

  function pump(): void {
    if (stopped) return;
    const t = now();
    session.handleTimeout(t);
    let next = device.service((deviceNow = t));
    for (let packet = session.pollTransmit(); packet; packet = session.pollTransmit()) write(packet);
    for (let e = session.pollEvent(); e; e = session.pollEvent()) {
      if (e.type === "open") {
        const decoder = new Decoder();
        const s = connect(port, "127.0.0.1");
        socket = s;
        s.on("connect", () => {
          session.transportUp(now());
          pump();
        });
        s.on("data", (chunk) => {
          for (const packet of decoder.push(new Uint8Array(chunk))) session.handlePacket(packet, now());
          pump();
        });
        s.on("close", () => {
          if (socket === s) {
            socket = undefined;
            session.transportDown(now(), "closed");
            pump();
          }
        });
        s.on("error", () => {});
      } else if (e.type === "close") {
        const s = socket;
        socket = undefined;
        s?.end();
      } else if (e.type === "connect") device.onConnected(now());
      else if (e.type === "offline") device.onDisconnected(now());
      else if (e.type === "message") device.onMessage(e.packet.topic, e.packet.payload, now());
      else if (e.type === "refused") refused.push(e.returnCode);
    }
    for (let packet = session.pollTransmit(); packet; packet = session.pollTransmit()) write(packet);
    next = Math.min(next, device.service((deviceNow = now())));
    const d = session.nextDeadline();
    if (d >= 0) next = Math.min(next, d);
    if (timer) clearTimeout(timer);
    if (Number.isFinite(next)) timer = setTimeout(pump, Math.max(0, next - now()) + 1);
  }

  const link = {
    publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean) {
      if (session.publish(topic, payload, qos, retain, now()) === 0) throw new Error("outbox full");
      sentAt.push(deviceNow);
    },
    subscribe(topics: readonly string[], qos: 0 | 1) {
      session.subscribe(topics.map((topic) => ({ topic, qos })), now());
    },
    restoresSubscriptions: true,
  };
  session.start(now());
  setImmediate(pump);
  return {
    link,
    pump,
    sentAt,
    wrote,
    refused,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket?.destroy();
    },
  };
}

test("device <-> aedes with MQTT.js as the platform: login, subscriptions, paced posts, replies, set, get", async () => {
  const platform = await startPlatform();
  const cloud = await mqtt.connectAsync(`mqtt://127.0.0.1:${platform.port}`, { clientId: "platform", reconnectPeriod: 0 });
  const uplink: { topic: string; json: Record<string, unknown>; qos: number }[] = [];
  await cloud.subscribeAsync(`${PREFIX}thing/#`, { qos: 1 });
  cloud.on("message", (topic, payload, packet) => {
    if (topic.endsWith("/reply") || topic.endsWith("/set") || topic.endsWith("/get")) return; // downlink echoes
    const json = JSON.parse(payload.toString()) as Record<string, unknown>;
    uplink.push({ topic, json, qos: packet.qos });
    if (topic === `${PREFIX}thing/property/post` || topic === `${PREFIX}thing/event/post`) {
      const params = json.params as Record<string, { value: unknown }>;
      const unknown = Object.keys(params).filter((k) => !KNOWN.has(k) && topic.endsWith("property/post"));
      const wrapped = Object.values(params).every((v) => typeof v === "object" && v !== null && "value" in v);
      const code = !wrapped ? 301 : unknown.length ? 309 : 200;
      void cloud.publishAsync(`${topic}/reply`, JSON.stringify({ id: json.id, code, msg: code === 200 ? "success" : "refused" }));
    }
  });

  const logs: string[] = [];
  const replies: ReplyInfo[] = [];
  let interval = 10;
  const config = parseConfig({ product: PRODUCT, device: DEVICE, key: KEY, host: "127.0.0.1", port: String(platform.port) });
  let link: ReturnType<typeof runDevice>["link"] | undefined;
  const device = new OneNetDevice({
    config,
    model: null, // let the platform answer 309 for the unknown identifier below
    link: {
      publish: (t, p, q, r) => link!.publish(t, p, q, r),
      subscribe: (t, q) => link!.subscribe(t, q),
      restoresSubscriptions: true,
    },
    onSet: (id, value) => {
      if (id === "interval") interval = value as number;
      return true;
    },
    onGet: (id) => (id === "interval" ? interval : undefined),
    onReply: (r) => replies.push(r),
    epochMs: () => Date.now(),
    log: logTo((level, _area, m) => logs.push(`${level} ${m}`)),
  });
  const run = runDevice(device, platform.port);
  link = run.link;
  try {
    await until(() => device.connected, "connect");
    await until(() => platform.subscriptions.length >= 4, "subscriptions");
    assert.deepEqual(platform.connects[0], { clientId: DEVICE, clean: true, keepalive: 60, will: false });
    assert.deepEqual(platform.subscriptions.sort(), device.topics.subscriptions().sort());

    device.report({ temp: 21.5, humi: 40.25 }, 0);
    device.report({ uptime: 12 }, 0);
    device.report({ bogus: 1 }, 0);
    device.postEvent("alarm", { code: 7, msg: "sensor lost" }, 0);
    run.pump();
    await until(() => uplink.length >= 4, "4 posts");
    await until(() => replies.length >= 4, "4 replies");
    assert.deepEqual(uplink.map((u) => u.json.id), ["1", "2", "3", "4"]);
    assert.ok(uplink.every((u) => u.qos === 1));
    assert.deepEqual((uplink[0].json.params as Record<string, { value: number }>).temp.value, 21.5);
    assert.equal(typeof (uplink[0].json.params as Record<string, { time: number }>).temp.time, "number");
    assert.deepEqual(replies.map((r) => [r.id, r.code]), [["1", 200], ["2", 200], ["3", 309], ["4", 200]]);
    assert.ok(logs.includes('WARN property post id=3 refused code=309 (identifier does not exist) msg="refused"'), logs.join("\n"));
    // pacing: the device handed messages over at least 1 s apart (platform: 1 message/s)
    for (let i = 1; i < run.sentAt.length; i++) assert.ok(run.sentAt[i] - run.sentAt[i - 1] >= 999, `gap ${run.sentAt[i] - run.sentAt[i - 1]}`);

    // property set from the cloud -> applied -> set_reply with the same id
    const setReply = new Promise<Record<string, unknown>>((resolve) => {
      cloud.on("message", (topic, payload) => {
        if (topic === `${PREFIX}thing/property/set_reply`) resolve(JSON.parse(payload.toString()));
      });
    });
    await cloud.publishAsync(`${PREFIX}thing/property/set`, JSON.stringify({ id: "777", version: "1.0", params: { interval: 30 } }));
    assert.deepEqual(await setReply, { id: "777", code: 200, msg: "success" });
    assert.equal(interval, 30);

    const getReply = new Promise<Record<string, unknown>>((resolve) => {
      cloud.on("message", (topic, payload) => {
        if (topic === `${PREFIX}thing/property/get_reply`) resolve(JSON.parse(payload.toString()));
      });
    });
    await cloud.publishAsync(`${PREFIX}thing/property/get`, JSON.stringify({ id: "778", version: "1.0", params: ["interval", "temp"] }));
    assert.deepEqual(await getReply, { id: "778", code: 200, msg: "success", data: { interval: 30, temp: 21.5 } });
    assert.deepEqual(platform.violations, []);
  } finally {
    run.stop();
    await cloud.endAsync();
    await platform.close();
  }
});

test("a wrong device key is refused by the platform's token check (CONNACK 4); the profile never sends", async () => {
  const platform = await startPlatform();
  const config = parseConfig({ product: PRODUCT, device: DEVICE, key: Buffer.alloc(32, 7).toString("base64"), port: String(platform.port) });
  let link: ReturnType<typeof runDevice>["link"] | undefined;
  const device = new OneNetDevice({
    config,
    link: { publish: (t, p, q, r) => link!.publish(t, p, q, r), subscribe: (t, q) => link!.subscribe(t, q) },
    log: SILENT,
  });
  const run = runDevice(device, platform.port);
  link = run.link;
  try {
    device.report({ uptime: 1 }, 0); // waiting in the outbox: it must not go out on a refused login
    run.pump();
    await until(() => run.refused.length >= 1, "the refusal");
    assert.deepEqual(run.refused, [4], "the session saw CONNACK return code 4 (bad user name or password)");
    assert.equal(device.connected, false);
    // Everything the device wrote on that connection was written before the CONNACK was handled.
    assert.deepEqual(run.wrote, ["connect"], "nothing but CONNECT went out: no SUBSCRIBE, no PUBLISH");
    assert.equal(platform.subscriptions.length, 0);
  } finally {
    run.stop();
    await platform.close();
  }
});

test("link fault: acknowledgements lost, then the broker drops the connection; the unacknowledged reports are resent with their original id and time, every report arrives", async () => {
  const platform = await startPlatform();
  const proxy = new FaultProxy(platform.port);
  await proxy.listen();
  const cloud = await mqtt.connectAsync(`mqtt://127.0.0.1:${platform.port}`, { clientId: "platform", reconnectPeriod: 0 });
  const seen = new Map<string, string>(); // id -> payload as first seen
  const again: { id: string; same: boolean }[] = [];
  await cloud.subscribeAsync(`${PREFIX}thing/property/post`, { qos: 1 });
  cloud.on("message", (topic, payload) => {
    const json = JSON.parse(payload.toString()) as { id: string };
    const before = seen.get(json.id);
    if (before === undefined) seen.set(json.id, payload.toString());
    else again.push({ id: json.id, same: payload.toString() === before });
    void cloud.publishAsync(`${topic}/reply`, JSON.stringify({ id: json.id, code: 200, msg: "success" }));
  });
  const T0 = Math.floor(Date.now() / 1000) * 1000; // near the platform's clock: the token expires a day after T0
  let clock = T0;
  const config = parseConfig({ product: PRODUCT, device: DEVICE, key: KEY, port: String(proxy.port) });
  let link: ReturnType<typeof runDevice>["link"] | undefined;
  const device = new OneNetDevice({
    config,
    link: { publish: (t, p, q, r) => link!.publish(t, p, q, r), subscribe: (t, q) => link!.subscribe(t, q), restoresSubscriptions: true },
    epochMs: () => clock,
    log: SILENT,
    pacingMs: 100, // faster than the platform's 1/s, to keep this test short; pacing is tested above
  });
  const run = runDevice(device, proxy.port);
  link = run.link;
  try {
    await until(() => device.connected, "connect");
    for (let i = 1; i <= 12; i++) {
      clock = T0 + i * 1000; // the device's clock when report i is made
      device.report({ uptime: i }, 0);
    }
    run.pump();
    await until(() => seen.size >= 4, "first reports");
    // The broker keeps taking reports, but its PUBACKs (and replies) no longer reach the device.
    proxy.dropDownstream(true);
    const takenBlind = seen.size;
    await until(() => seen.size >= takenBlind + 2 && proxy.dropped.down > 0, "two reports taken without an acknowledgement");
    // The first of these may have had its PUBACK pass just before the drop began; from the second on
    // (sent a pacing gap later) no acknowledgement can have reached the device.
    const unacked = [...seen.keys()].slice(takenBlind + 1);
    // The platform side cuts the device's TCP connection (as a broker restart would).
    platform.dropDevice();
    proxy.dropDownstream(false);
    await until(() => platform.connects.length >= 2, "the device to reconnect");
    await until(() => seen.size >= 12, "all 12 reports", 30000);
    await until(() => unacked.every((id) => again.some((a) => a.id === id)), "the unacknowledged reports again");
    assert.ok(again.length >= 1, "reports were resent");
    for (const a of again) assert.ok(a.same, `resend of ${a.id} is the original message (same id and time)`);
    assert.deepEqual([...seen.keys()].sort((a, b) => Number(a) - Number(b)), Array.from({ length: 12 }, (_, i) => String(i + 1)));
    for (const [id, payload] of seen) {
      const json = JSON.parse(payload) as { params: { uptime: { value: number; time: number } } };
      assert.deepEqual(json.params.uptime, { value: Number(id), time: T0 + Number(id) * 1000 }, `report ${id} carries the time it was made`);
    }
  } finally {
    run.stop();
    await cloud.endAsync();
    await proxy.close();
    await platform.close();
  }
});
