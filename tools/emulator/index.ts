// A local OneNET: an MQTT 3.1.1 broker (aedes) behind a gate that enforces what the platform enforces
// (../shared/facts/onenet.md), a OneJSON responder checking payloads against the thing model, and an
// HTTP console (console-server.ts).
//
//   device socket --> Gate (parse with mqtt-packet, check the platform's rules, pace uplink
//                     PUBLISH at 1/s per device) --> re-encoded bytes --> aedes (CONNECT/auth,
//                     SUBSCRIBE, QoS 1 acks, keepalive, delivery only to subscribed topics)
//   aedes 'publish' --> Platform (post/reply, event/reply, set_reply/get_reply correlation)
//   Platform downlink --> aedes.publish (QoS 0) --> only devices subscribed receive it
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from "aedes";
import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { Duplex } from "node:stream";
import mqttPacket, { type IConnectPacket, type IPublishPacket, type Packet, type Parser } from "mqtt-packet";
import { realClock, type Clock } from "./clock.ts";
import { LOGIN_CODES, verifyToken } from "./token.ts";
import {
  checkEventPost,
  checkPropertyPost,
  checkSetParams,
  defaultThingModelPath,
  loadThingModel,
  parseRequest,
  SUCCESS,
  type ThingModel,
  type Verdict,
  valueMatches,
} from "./thing-model.ts";
import { startConsole, type ConsoleServer } from "./console-server.ts";

export { VirtualClock, realClock, type Clock } from "./clock.ts";
export { makeToken, verifyToken, tokenSignature } from "./token.ts";

export interface DeviceEntry {
  product: string;
  device: string;
  /** Device key (base64), for tokens with res = products/{pid}/devices/{device}. */
  key: string;
}

export interface ProductEntry {
  product: string;
  /** Product key (base64), for tokens with res = products/{pid}. */
  key: string;
}

export interface EmulatorOptions {
  host?: string;
  /** MQTT port; 0 (default) picks a free one. */
  port?: number;
  /** Console HTTP port; 0 (default) picks a free one. */
  httpPort?: number;
  devices: DeviceEntry[];
  products?: ProductEntry[];
  /** Thing model JSON; default onenet/thing-model.json, or the emulator's copy until that exists. */
  thingModelPath?: string;
  /** One line per event; default console.log. Secrets never appear in these lines. */
  log?: (line: string) => void;
  /** Time source for pacing, token expiry and set timeouts (tests inject a VirtualClock). */
  clock?: Clock;
  /** How long a console property set/get waits for the device's reply (ms, default 10000). */
  replyTimeoutMs?: number;
  /** Uplink pacing interval per device (ms, default 1000: the platform's 1 message/s). */
  uplinkIntervalMs?: number;
  /** Points kept per property for the charts (default 500). */
  historyLimit?: number;
}

export interface SetResult {
  ok: boolean;
  id?: string;
  code?: number;
  msg?: string;
  data?: unknown;
  error?: string;
}

export interface PropertyValue {
  value: unknown;
  time: number;
}

export interface DeviceLogLine {
  time: number;
  level: "info" | "warn";
  text: string;
}

export interface DeviceView {
  product: string;
  device: string;
  online: boolean;
  since: number;
  latest: Record<string, PropertyValue>;
  history: Record<string, [number, number][]>;
  log: DeviceLogLine[];
  subscriptions: string[];
  /** Times of the last accepted property posts (the device's `time`, else arrival), oldest first. */
  posts: number[];
}

export type EmulatorEvent =
  | { type: "online"; product: string; device: string; online: boolean; time: number }
  | { type: "property"; product: string; device: string; identifier: string; value: unknown; time: number }
  | { type: "post"; product: string; device: string; id: string; time: number }
  | { type: "log"; product: string; device: string; line: DeviceLogLine }
  | { type: "subscriptions"; product: string; device: string; subscriptions: string[] }
  | { type: "reply"; product: string; device: string; kind: "set" | "get"; result: SetResult; params: unknown };

export interface Emulator {
  brokerUrl: string;
  consoleUrl: string;
  port: number;
  httpPort: number;
  model: ThingModel;
  thingModelPath: string;
  /** 'event' with an EmulatorEvent on every change (the console streams these). */
  events: EventEmitter;
  devices(): DeviceView[];
  /** Cloud property set: publishes thing/property/set and waits for the device's set_reply. */
  setProperties(product: string, device: string, params: Record<string, unknown>): Promise<SetResult>;
  /** Cloud property get: publishes thing/property/get and waits for get_reply. */
  getProperties(product: string, device: string, identifiers: string[]): Promise<SetResult>;
  /** Close the device's connection from the platform side (a link fault for reconnect tests). */
  disconnect(product: string, device: string): boolean;
  close(): Promise<void>;
}

const MAX_PAYLOAD = 256 * 1024;
const MAX_TOPIC_LEVELS = 8;
const MAX_SUBSCRIPTIONS = 10;
const DEVICE_LOG_LIMIT = 100;

interface Pending {
  kind: "set" | "get";
  params: unknown;
  resolve: (r: SetResult) => void;
  timer: unknown;
}

interface DeviceState {
  entry: DeviceEntry;
  prefix: string;
  online: boolean;
  since: number;
  conn: Connection | undefined;
  lastUplinkAt: number;
  latest: Map<string, PropertyValue>;
  history: Map<string, [number, number][]>;
  log: DeviceLogLine[];
  pending: Map<string, Pending>;
  posts: number[];
  /** Ids of the last 200 accepted property posts, to point out resends. */
  postIds: string[];
}

/** Does an MQTT topic filter (with + and #) match a topic name? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

let connectionSeq = 0;

/** Flush and send FIN; destroy if the peer has not closed its side within 2 s. */
function hangUp(socket: Socket): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.end();
  const timer = setTimeout(() => socket.destroy(), 2000);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}

/** One device TCP connection: the gate in front of aedes. */
class Connection {
  readonly id = ++connectionSeq;
  readonly duplex: Duplex;
  readonly parser: Parser;
  state: "new" | "connecting" | "open" | "closed" = "new";
  clientId = "";
  username = "";
  device: DeviceState | undefined;
  /** Uplink pacing state when the device is unknown (login will fail anyway). */
  own = { lastUplinkAt: -Infinity };
  readonly queue: Packet[] = [];
  timer: unknown = undefined;
  readonly subscriptions = new Set<string>();

  constructor(
    readonly socket: Socket,
    readonly emu: EmulatorCore,
  ) {
    this.duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (!socket.destroyed) socket.write(chunk);
        callback();
      },
      final(callback) {
        socket.end();
        callback();
      },
      destroy(error, callback) {
        hangUp(socket);
        callback(error);
      },
    });
    this.parser = mqttPacket.parser({ protocolVersion: 4 });
    this.parser.on("packet", (packet) => this.onPacket(packet));
    this.parser.on("error", (error: Error) => this.violation(`malformed packet: ${error.message}`));
    socket.on("data", (chunk: Buffer) => {
      if (this.state !== "closed") this.parser.parse(chunk);
    });
    socket.on("error", () => {});
    socket.on("close", () => this.onClose());
  }

  get pacing(): { lastUplinkAt: number } {
    return this.device ?? this.own;
  }

  label(): string {
    return this.clientId ? `product=${this.username || "-"} device=${this.clientId}` : `conn=${this.id}`;
  }

  onPacket(packet: Packet): void {
    if (this.state === "closed") return;
    if (this.state === "new") {
      if (packet.cmd !== "connect") return this.violation(`first packet is ${packet.cmd}, not CONNECT`);
      return this.onConnect(packet);
    }
    switch (packet.cmd) {
      case "connect":
        return this.violation("second CONNECT on a connection");
      case "publish":
        return this.onPublish(packet);
      case "pubrec":
      case "pubrel":
      case "pubcomp":
        return this.violation(`${packet.cmd.toUpperCase()} from the device (QoS 2 is not supported)`);
      case "unsubscribe":
        for (const t of packet.unsubscriptions) this.subscriptions.delete(t);
        this.emu.subscriptionsChanged(this);
        return this.forward(packet);
      case "subscribe":
        // The platform grants at most QoS 0 (all downlink is QoS 0): ask aedes for 0 whatever was asked.
        for (const sub of packet.subscriptions) sub.qos = 0;
        return this.forward(packet);
      case "disconnect":
        // The publishes the device sent before DISCONNECT are still processed.
        return this.enqueue(packet);
      default:
        // Only PUBLISH is paced: PINGREQ, SUBSCRIBE, PUBACK go straight through so a device with a
        // backlog keeps its keepalive (the platform rates pings and subscribes separately).
        return this.forward(packet);
    }
  }

  onConnect(packet: IConnectPacket): void {
    this.clientId = packet.clientId;
    this.username = packet.username ?? "";
    this.device = this.emu.registry.get(`${this.username}/${this.clientId}`);
    if (packet.protocolVersion !== 4) return this.refuse(1, `MQTT protocol level ${packet.protocolVersion ?? "?"} (only 3.1.1)`);
    if (packet.will) return this.refuse(5, "will flag set (the platform refuses wills)");
    if (!packet.clean) return this.refuse(5, "clean session 0 (the platform requires clean session 1)");
    const keepalive = packet.keepalive ?? 0;
    if (keepalive < 10 || keepalive > 1800) return this.refuse(5, `keepalive ${keepalive} s outside 10..1800`);
    this.state = "connecting";
    this.forward(packet);
  }

  onPublish(packet: IPublishPacket): void {
    const prefix = `$sys/${this.username}/${this.clientId}/`;
    if (packet.qos === 2) return this.violation(`QoS 2 PUBLISH topic=${packet.topic}`);
    if (packet.retain) return this.violation(`retained PUBLISH topic=${packet.topic}`);
    if (!packet.topic.startsWith(prefix)) return this.violation(`PUBLISH outside ${prefix} topic=${packet.topic}`);
    if (packet.topic.split("/").length > MAX_TOPIC_LEVELS) return this.violation(`PUBLISH topic deeper than ${MAX_TOPIC_LEVELS} levels`);
    if (packet.payload.length > MAX_PAYLOAD) return this.violation(`PUBLISH payload ${packet.payload.length} bytes > 256 KB`);
    const pacing = this.pacing;
    const wait = pacing.lastUplinkAt + this.emu.uplinkIntervalMs - this.emu.clock.now();
    if (this.queue.length > 0 || wait > 0) {
      this.emu.deviceLog(this.device, "info", `uplink paced (1 message/s): ${packet.topic.slice(prefix.length)} delayed, ${this.queue.filter((p) => p.cmd === "publish").length + 1} waiting`, false);
    }
    this.enqueue(packet);
  }

  enqueue(packet: Packet): void {
    this.queue.push(packet);
    this.pump();
  }

  /** Forward queued packets in order; a PUBLISH waits until 1 s after the device's previous one.
   * Only PUBLISH (and a DISCONNECT behind queued ones) ever enters the queue. */
  pump(): void {
    if (this.timer !== undefined) return;
    while (this.queue.length > 0 && this.state !== "closed") {
      const packet = this.queue[0]!;
      if (packet.cmd === "publish") {
        const pacing = this.pacing;
        const now = this.emu.clock.now();
        const wait = pacing.lastUplinkAt + this.emu.uplinkIntervalMs - now;
        if (wait > 0) {
          this.timer = this.emu.clock.setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, wait);
          return;
        }
        pacing.lastUplinkAt = now;
      }
      this.queue.shift();
      this.forward(packet);
    }
  }

  forward(packet: Packet): void {
    if (this.state === "closed") return;
    this.duplex.push(mqttPacket.generate(packet));
  }

  refuse(returnCode: number, reason: string): void {
    this.emu.log("WARN", `connect refused: ${reason}`, `${this.label()} connack=${returnCode}`);
    this.emu.deviceLog(this.device, "warn", `connect refused (CONNACK ${returnCode}): ${reason}`);
    this.socket.write(mqttPacket.generate({ cmd: "connack", returnCode, sessionPresent: false }));
    this.close();
  }

  violation(reason: string): void {
    if (this.state === "closed") return;
    this.emu.log("WARN", `disconnect: ${reason}`, this.label());
    this.emu.deviceLog(this.device, "warn", `disconnected by the platform: ${reason}`);
    this.close();
  }

  /** Stop reading, drop what is queued, flush what was written (a CONNACK) and close the link. */
  close(hard = false): void {
    if (hard) this.socket.destroy();
    if (this.state === "closed") return;
    this.state = "closed";
    if (this.timer !== undefined) this.emu.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    hangUp(this.socket);
    this.duplex.destroy();
  }

  onClose(): void {
    this.close();
    this.emu.connectionClosed(this);
  }
}

class EmulatorCore {
  readonly registry = new Map<string, DeviceState>();
  readonly productKeys = new Map<string, string>();
  readonly connections = new Set<Connection>();
  readonly byDuplex = new WeakMap<Duplex, Connection>();
  readonly events = new EventEmitter();
  readonly clock: Clock;
  readonly started: number;
  readonly uplinkIntervalMs: number;
  readonly replyTimeoutMs: number;
  readonly historyLimit: number;
  readonly logLine: (line: string) => void;
  broker!: Aedes;
  nextDownlinkId = 0;

  constructor(
    readonly options: EmulatorOptions,
    readonly model: ThingModel,
  ) {
    this.clock = options.clock ?? realClock;
    this.started = Date.now();
    this.uplinkIntervalMs = options.uplinkIntervalMs ?? 1000;
    this.replyTimeoutMs = options.replyTimeoutMs ?? 10000;
    this.historyLimit = options.historyLimit ?? 500;
    this.logLine = options.log ?? ((line) => console.log(line));
    this.events.setMaxListeners(0);
    for (const entry of options.devices) {
      if (!entry.product || !entry.device || !entry.key) throw new Error("emulator: each device needs product, device and key");
      const id = `${entry.product}/${entry.device}`;
      if (this.registry.has(id)) throw new Error(`emulator: device ${id} listed twice`);
      this.registry.set(id, {
        entry,
        prefix: `$sys/${entry.product}/${entry.device}/`,
        online: false,
        since: this.clock.now(),
        conn: undefined,
        lastUplinkAt: -Infinity,
        latest: new Map(),
        history: new Map(),
        log: [],
        pending: new Map(),
        posts: [],
        postIds: [],
      });
    }
    for (const p of options.products ?? []) this.productKeys.set(p.product, p.key);
  }

  log(level: "INFO" | "WARN", message: string, fields = ""): void {
    this.logLine(`${Date.now() - this.started} ${level} emulator: ${message}${fields ? " " + fields : ""}`);
  }

  deviceLog(device: DeviceState | undefined, level: DeviceLogLine["level"], text: string, alsoStdout = false): void {
    if (!device) return;
    const line: DeviceLogLine = { time: this.clock.now(), level, text };
    device.log.push(line);
    if (device.log.length > DEVICE_LOG_LIMIT) device.log.shift();
    this.emit({ type: "log", product: device.entry.product, device: device.entry.device, line });
    if (alsoStdout) this.log(level === "warn" ? "WARN" : "INFO", text, `product=${device.entry.product} device=${device.entry.device}`);
  }

  emit(event: EmulatorEvent): void {
    this.events.emit("event", event);
  }

  accept(socket: Socket): void {
    const conn = new Connection(socket, this);
    this.connections.add(conn);
    this.byDuplex.set(conn.duplex, conn);
    this.broker.handle(conn.duplex);
  }

  connOf(client: Client | null): Connection | undefined {
    return client ? this.byDuplex.get(client.conn as Duplex) : undefined;
  }

  authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    const conn = this.connOf(client);
    const result = verifyToken({
      token: password?.toString("utf8"),
      product: username,
      device: client.id,
      nowSeconds: Math.floor(this.clock.now() / 1000),
      keyFor: (level, product, device) => (level === "device" ? this.registry.get(`${product}/${device}`)?.entry.key : this.productKeys.get(product)),
    });
    if (result.ok) {
      done(null, true);
      return;
    }
    const reason = `${result.code} ${LOGIN_CODES[result.code]}`;
    this.log("WARN", `login failed: ${reason}`, `${conn?.label() ?? `device=${client.id}`} connack=4`);
    this.deviceLog(conn?.device, "warn", `login failed (CONNACK 4): ${reason}`);
    const error = Object.assign(new Error(`login failed: ${reason}`), { returnCode: 4 }) as AuthenticateError;
    done(error, null);
  }

  authorizeSubscribe(client: Client, sub: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void): void {
    const conn = this.connOf(client);
    if (!conn) return callback(null, null);
    const prefix = `$sys/${conn.username}/${conn.clientId}/`;
    if (!sub.topic.startsWith(prefix)) {
      this.deviceLog(conn.device, "warn", `subscribe refused (outside ${prefix}): ${sub.topic}`, true);
      return callback(null, null);
    }
    if (!conn.subscriptions.has(sub.topic) && conn.subscriptions.size >= MAX_SUBSCRIPTIONS) {
      this.deviceLog(conn.device, "warn", `subscribe refused (more than ${MAX_SUBSCRIPTIONS} topics): ${sub.topic}`, true);
      return callback(null, null);
    }
    conn.subscriptions.add(sub.topic);
    this.subscriptionsChanged(conn);
    callback(null, sub); // QoS already lowered to 0 by the gate

  }

  subscriptionsChanged(conn: Connection): void {
    const device = conn.device;
    if (!device || device.conn !== conn) return;
    this.emit({ type: "subscriptions", product: device.entry.product, device: device.entry.device, subscriptions: [...conn.subscriptions] });
  }

  clientReady(client: Client): void {
    const conn = this.connOf(client);
    if (!conn || !conn.device) return;
    conn.state = "open";
    const device = conn.device;
    device.conn = conn;
    device.online = true;
    device.since = this.clock.now();
    this.log("INFO", "device online", conn.label());
    this.emit({ type: "online", product: device.entry.product, device: device.entry.device, online: true, time: device.since });
    this.deviceLog(device, "info", "online");
    this.subscriptionsChanged(conn);
  }

  connectionClosed(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    const device = conn.device;
    if (!device || device.conn !== conn) return;
    device.conn = undefined;
    device.online = false;
    device.since = this.clock.now();
    this.log("INFO", "device offline", conn.label());
    this.emit({ type: "online", product: device.entry.product, device: device.entry.device, online: false, time: device.since });
    this.deviceLog(device, "info", "offline");
    for (const [id, p] of device.pending) {
      device.pending.delete(id);
      this.clock.clearTimeout(p.timer);
      p.resolve({ ok: false, id, error: "device went offline before replying" });
    }
  }

  /** A PUBLISH from a device, after the gate and aedes accepted it. */
  uplink(packet: PublishPacket, client: Client | null): void {
    const conn = this.connOf(client);
    const device = conn?.device;
    if (!conn || !device || !packet.topic.startsWith(device.prefix)) return;
    const suffix = packet.topic.slice(device.prefix.length);
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    switch (suffix) {
      case "thing/property/post":
        return this.propertyPost(device, payload);
      case "thing/event/post":
        this.request(device, payload, "thing/event/post/reply", (body) => checkEventPost(this.model, body), "event post");
        return;
      case "thing/property/desired/get":
      case "thing/property/desired/delete":
        this.request(device, payload, `${suffix}/reply`, () => SUCCESS, suffix.slice(6), { data: {} });
        return;
      case "thing/property/set_reply":
      case "thing/property/get_reply":
        return this.reply(device, payload, suffix === "thing/property/set_reply" ? "set" : "get");
      default:
        this.deviceLog(device, "info", `uplink on ${suffix} (not handled by the emulator) ${payload.length} bytes`, true);
    }
  }

  request(device: DeviceState, payload: Buffer, replySuffix: string, check: (body: Record<string, unknown>) => Verdict, what: string, extra: Record<string, unknown> = {}): Verdict {
    const req = parseRequest(payload);
    const verdict = req.verdict ?? check(req.body!);
    this.downlink(device, replySuffix, { id: req.id, code: verdict.code, msg: verdict.msg, ...(verdict.code === 200 ? extra : {}) });
    this.deviceLog(device, verdict.code === 200 ? "info" : "warn", `${what} id=${req.id || "?"} -> ${verdict.code} ${verdict.msg}`, verdict.code !== 200);
    return verdict;
  }

  propertyPost(device: DeviceState, payload: Buffer): void {
    const req = parseRequest(payload);
    const verdict = req.verdict ?? checkPropertyPost(this.model, req.body!);
    this.downlink(device, "thing/property/post/reply", { id: req.id, code: verdict.code, msg: verdict.msg });
    const names = req.body && typeof req.body.params === "object" && req.body.params ? Object.keys(req.body.params).join(",") : "";
    this.deviceLog(device, verdict.code === 200 ? "info" : "warn", `property post id=${req.id || "?"} ${names} -> ${verdict.code} ${verdict.msg}`, verdict.code !== 200);
    if (verdict.code !== 200) return;
    const params = req.body!.params as Record<string, { value: unknown; time?: number }>;
    const now = this.clock.now();
    let postTime = -Infinity;
    for (const entry of Object.values(params)) if (typeof entry.time === "number") postTime = Math.max(postTime, entry.time);
    if (postTime === -Infinity) postTime = now;
    if (device.postIds.includes(req.id)) {
      this.deviceLog(device, "info", `property post id=${req.id} is a resend of an id already accepted (answered 200 again)`);
    } else {
      device.postIds.push(req.id);
      if (device.postIds.length > 200) device.postIds.shift();
    }
    device.posts.push(postTime);
    if (device.posts.length > 20) device.posts.shift();
    this.emit({ type: "post", product: device.entry.product, device: device.entry.device, id: req.id, time: postTime });
    for (const [identifier, entry] of Object.entries(params)) {
      this.record(device, identifier, entry.value, typeof entry.time === "number" ? entry.time : now);
    }
  }

  /** A property value the device reported (post or get_reply): latest value, chart history, event. */
  record(device: DeviceState, identifier: string, value: unknown, time: number): void {
    device.latest.set(identifier, { value, time });
    if (typeof value === "number") {
      let h = device.history.get(identifier);
      if (!h) device.history.set(identifier, (h = []));
      h.push([time, value]);
      if (h.length > this.historyLimit) h.splice(0, h.length - this.historyLimit);
    }
    this.emit({ type: "property", product: device.entry.product, device: device.entry.device, identifier, value, time });
  }

  reply(device: DeviceState, payload: Buffer, kind: "set" | "get"): void {
    const req = parseRequest(payload);
    const pending = device.pending.get(req.id);
    if (!pending || pending.kind !== kind || req.verdict) {
      const why = req.verdict ? `${req.verdict.code} ${req.verdict.msg}` : "no request with that id is waiting";
      this.deviceLog(device, "warn", `${kind}_reply id=${req.id || "?"} rejected (1027 bad ${kind}_reply): ${why}`, true);
      return;
    }
    device.pending.delete(req.id);
    this.clock.clearTimeout(pending.timer);
    const body = req.body!;
    const code = typeof body.code === "number" ? body.code : undefined;
    const result: SetResult = { ok: code !== undefined, id: req.id };
    if (code !== undefined) result.code = code;
    if (typeof body.msg === "string") result.msg = body.msg;
    if (kind === "get") result.data = body.data;
    if (code === undefined) result.error = `${kind}_reply without a numeric code`;
    this.deviceLog(device, code === 200 ? "info" : "warn", `${kind}_reply id=${req.id} code=${code ?? "?"}${result.msg ? " msg=" + result.msg : ""}`);
    if (kind === "get" && code === 200 && body.data && typeof body.data === "object") {
      const now = this.clock.now();
      for (const [identifier, value] of Object.entries(body.data as Record<string, unknown>)) {
        const def = this.model.properties.get(identifier);
        if (def && valueMatches(def.dataType, value)) this.record(device, identifier, value, now);
      }
    }
    pending.resolve(result);
  }

  /** Platform -> device on $sys/{pid}/{device}/{suffix}, QoS 0; only delivered if subscribed. */
  downlink(device: DeviceState, suffix: string, body: unknown): boolean {
    const topic = device.prefix + suffix;
    const conn = device.conn;
    if (!conn) return false;
    let subscribed = false;
    for (const f of conn.subscriptions) if (topicMatches(f, topic)) subscribed = true;
    if (!subscribed) {
      this.deviceLog(device, "warn", `downlink ${suffix} not delivered: 1022 subscription not exist`, true);
      return false;
    }
    const payload = Buffer.from(JSON.stringify(body));
    this.broker.publish({ cmd: "publish", topic, payload, qos: 0, retain: false, dup: false }, () => {});
    return true;
  }

  command(product: string, deviceName: string, kind: "set" | "get", params: unknown): Promise<SetResult> {
    const device = this.registry.get(`${product}/${deviceName}`);
    if (!device) return Promise.resolve({ ok: false, error: `no device ${product}/${deviceName}` });
    if (kind === "set") {
      const bad = checkSetParams(this.model, params);
      if (bad) return Promise.resolve({ ok: false, error: bad });
    } else if (!Array.isArray(params) || params.some((p) => typeof p !== "string" || !this.model.properties.has(p))) {
      return Promise.resolve({ ok: false, error: "params must be an array of property identifiers" });
    }
    if (!device.online) return Promise.resolve({ ok: false, error: "device offline" });
    const id = String(++this.nextDownlinkId);
    const suffix = kind === "set" ? "thing/property/set" : "thing/property/get";
    this.deviceLog(device, "info", `property ${kind} id=${id} ${JSON.stringify(params)}`);
    if (!this.downlink(device, suffix, { id, version: "1.0", params })) {
      return Promise.resolve({ ok: false, id, error: `device has not subscribed to ${suffix} (1022)` });
    }
    return new Promise<SetResult>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        device.pending.delete(id);
        this.deviceLog(device, "warn", `${kind}_reply id=${id} timed out`);
        resolve({ ok: false, id, error: `no ${kind}_reply within ${this.replyTimeoutMs} ms` });
      }, this.replyTimeoutMs);
      device.pending.set(id, {
        kind,
        params,
        timer,
        resolve: (result) => {
          this.emit({ type: "reply", product, device: deviceName, kind, result, params });
          resolve(result);
        },
      });
    });
  }

  kick(product: string, deviceName: string): boolean {
    const device = this.registry.get(`${product}/${deviceName}`);
    const conn = device?.conn;
    if (!device || !conn) return false;
    this.log("INFO", "disconnect requested from the console/API", conn.label());
    this.deviceLog(device, "warn", "disconnected from the console/API");
    conn.close(true);
    return true;
  }

  view(device: DeviceState): DeviceView {
    return {
      product: device.entry.product,
      device: device.entry.device,
      online: device.online,
      since: device.since,
      latest: Object.fromEntries(device.latest),
      history: Object.fromEntries([...device.history].map(([k, v]) => [k, v.slice()])),
      log: device.log.slice(),
      subscriptions: device.conn ? [...device.conn.subscriptions] : [],
      posts: device.posts.slice(),
    };
  }
}

function listen(server: Server | import("node:http").Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const host = options.host ?? "127.0.0.1";
  const thingModelPath = options.thingModelPath ?? defaultThingModelPath();
  const model = loadThingModel(thingModelPath);
  const core = new EmulatorCore(options, model);
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => core.authenticate(client, username, password, done),
    authorizeSubscribe: (client, sub, callback) => core.authorizeSubscribe(client, sub, callback),
    authorizePublish: (_client, _packet, callback) => callback(null),
    keepaliveLimit: 1800,
    maxClientsIdLength: 256,
  });
  core.broker = broker;
  broker.on("clientReady", (client) => core.clientReady(client));
  broker.on("publish", (packet, client) => core.uplink(packet, client));
  broker.on("keepaliveTimeout", (client) => {
    const conn = core.connOf(client);
    core.log("WARN", "keepalive timeout (no uplink for 1.5 x keepalive)", conn?.label() ?? `device=${client.id}`);
    core.deviceLog(conn?.device, "warn", "keepalive timeout: disconnected");
  });

  const mqttServer = createServer((socket) => core.accept(socket));
  let port: number;
  let consoleServer: ConsoleServer;
  try {
    port = await listen(mqttServer, options.port ?? 0, host);
    consoleServer = await startConsole(
      {
        model,
        events: core.events,
        devices: () => [...core.registry.values()].map((d) => core.view(d)),
        set: (product, device, params) => core.command(product, device, "set", params),
        get: (product, device, ids) => core.command(product, device, "get", ids),
        disconnect: (product, device) => core.kick(product, device),
      },
      options.httpPort ?? 0,
      host,
    );
  } catch (error) {
    mqttServer.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }
  const brokerUrl = `mqtt://${urlHost(host)}:${port}`;
  const consoleUrl = `http://${urlHost(host)}:${consoleServer.port}/`;
  core.log("INFO", "started", `broker=${brokerUrl} console=${consoleUrl} devices=${core.registry.size} model=${thingModelPath}`);

  let closing: Promise<void> | undefined;
  return {
    brokerUrl,
    consoleUrl,
    port,
    httpPort: consoleServer.port,
    model,
    thingModelPath,
    events: core.events,
    devices: () => [...core.registry.values()].map((d) => core.view(d)),
    setProperties: (product, device, params) => core.command(product, device, "set", params),
    getProperties: (product, device, ids) => core.command(product, device, "get", ids),
    disconnect: (product, device) => core.kick(product, device),
    close() {
      closing ??= (async () => {
        for (const device of core.registry.values()) {
          for (const [id, p] of device.pending) {
            core.clock.clearTimeout(p.timer);
            p.resolve({ ok: false, id, error: "emulator closed" });
          }
          device.pending.clear();
        }
        const mqttClosed = new Promise<void>((resolve) => mqttServer.close(() => resolve()));
        for (const conn of [...core.connections]) conn.close(true);
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        await consoleServer.close();
        await mqttClosed;
      })();
      return closing;
    },
  };
}
