// The gate: what the platform enforces on a device connection, in front of aedes (docs/onenet.md,
// "CONNECT", "QoS, retain, limits", "Rates").
//
//   device socket --> Connection (parse with mqtt-packet, check the platform's rules, pace uplink
//                     PUBLISH at 1/s per device) --> re-encoded bytes --> aedes (CONNECT/auth via
//                     Gate.authenticate, SUBSCRIBE via Gate.authorizeSubscribe, QoS 1 acks, keepalive)
//
// A rule broken before login is answered with a CONNACK refusal; after login, with a disconnect.
import type { AuthenticateError, Client, Subscription } from "aedes";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import mqttPacket, { type IConnectPacket, type IPublishPacket, type Packet, type Parser } from "mqtt-packet";
import qlobber, { type QlobberTrue } from "qlobber";
import { LIMITS } from "../../onenet/config.ts";
import { LOGIN_CODES, verifyToken } from "./token.ts";
import type { DeviceState, Link, Registry } from "./registry.ts";

export const MAX_PAYLOAD = 256 * 1024;
const MAX_TOPIC_LEVELS = 8;
const MAX_SUBSCRIPTIONS = 10;
/** A platform CONNECT (device name and product id of at most 64 bytes, a token of about 300) is well
 * under 1 KB; a larger announcement is refused at the fixed header, before any of it is buffered. */
export const MAX_CONNECT_BYTES = 4096;
/** After CONNECT: the largest PUBLISH that could still be legal (payload cap, longest topic, packet id). */
export const MAX_PACKET_BYTES = MAX_PAYLOAD + 2 + 0xffff + 2;

/** Topic filters matched the way aedes matches them (its mqemitter uses qlobber with these options). */
function newMatcher(): QlobberTrue {
  return new qlobber.QlobberTrue({ separator: "/", wildcard_one: "+", wildcard_some: "#", match_empty_levels: true });
}

/** The remaining length the parser has read from the fixed header of the packet it is waiting for.
 * mqtt-packet has no size limit of its own and does not type this field; emulator-limits.test.ts
 * pins that it is there (a 200 MB announcement is refused at the header). */
function announcedLength(parser: Parser): number {
  const packet = (parser as unknown as { packet?: { length?: unknown } }).packet;
  return typeof packet?.length === "number" ? packet.length : -1;
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
export class Connection implements Link {
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
  readonly #matcher = newMatcher();

  constructor(
    readonly socket: Socket,
    readonly gate: Gate,
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
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => {});
    socket.on("close", () => this.onClose());
  }

  get registry(): Registry {
    return this.gate.registry;
  }

  get pacing(): { lastUplinkAt: number } {
    return this.device ?? this.own;
  }

  label(): string {
    return this.clientId ? `product=${this.username || "-"} device=${this.clientId}` : `conn=${this.id}`;
  }

  subscribed(topic: string): boolean {
    return this.#matcher.test(topic);
  }

  onData(chunk: Buffer): void {
    if (this.state === "closed") return;
    this.parser.parse(chunk);
    this.checkAnnounced();
  }

  /** Refuse a packet at its fixed header when it announces more than could be legal here. */
  checkAnnounced(): void {
    if (this.state === "closed") return;
    const limit = this.state === "new" ? MAX_CONNECT_BYTES : MAX_PACKET_BYTES;
    const length = announcedLength(this.parser);
    if (length > limit) this.violation(`packet of ${length} bytes announced${this.state === "new" ? " before login" : ""} (limit ${limit})`);
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
        for (const t of packet.unsubscriptions) {
          if (this.subscriptions.delete(t)) this.#matcher.remove(t);
        }
        this.gate.subscriptionsChanged(this);
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
    this.device = this.registry.get(this.username, this.clientId);
    if (packet.protocolVersion !== 4) return this.refuse(1, `MQTT protocol level ${packet.protocolVersion ?? "?"} (only 3.1.1)`);
    if (packet.will) return this.refuse(5, "will flag set (the platform refuses wills)");
    if (!packet.clean) return this.refuse(5, "clean session 0 (the platform requires clean session 1)");
    const keepalive = packet.keepalive ?? 0;
    const { min, max } = LIMITS.keepalive;
    if (keepalive < min || keepalive > max) {
      return this.refuse(5, `keepalive ${keepalive} s outside ${min}..${max}`);
    }
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
    const wait = this.pacing.lastUplinkAt + this.gate.uplinkIntervalMs - this.registry.clock.now();
    if (this.queue.length > 0 || wait > 0) {
      const waiting = this.queue.filter((p) => p.cmd === "publish").length + 1;
      this.registry.deviceLog(this.device, "info", `uplink paced (1 message/s): ${packet.topic.slice(prefix.length)} delayed, ${waiting} waiting`, false);
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
    const clock = this.registry.clock;
    while (this.queue.length > 0 && this.state !== "closed") {
      const packet = this.queue[0]!;
      if (packet.cmd === "publish") {
        const pacing = this.pacing;
        const now = clock.now();
        const wait = pacing.lastUplinkAt + this.gate.uplinkIntervalMs - now;
        if (wait > 0) {
          this.timer = clock.setTimeout(() => {
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
    this.registry.log("WARN", `connect refused: ${reason}`, `${this.label()} connack=${returnCode}`);
    this.registry.deviceLog(this.device, "warn", `connect refused (CONNACK ${returnCode}): ${reason}`);
    this.socket.write(mqttPacket.generate({ cmd: "connack", returnCode, sessionPresent: false }));
    this.close();
  }

  violation(reason: string): void {
    if (this.state === "closed") return;
    this.registry.log("WARN", `disconnect: ${reason}`, this.label());
    this.registry.deviceLog(this.device, "warn", `disconnected by the platform: ${reason}`);
    this.close();
  }

  /** Stop reading, drop what is queued, flush what was written (a CONNACK) and close the link. */
  close(hard = false): void {
    if (hard) this.socket.destroy();
    if (this.state === "closed") return;
    this.state = "closed";
    if (this.timer !== undefined) this.registry.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    hangUp(this.socket);
    this.duplex.destroy();
  }

  onClose(): void {
    this.close();
    this.gate.connectionClosed(this);
  }

  addSubscription(topic: string): void {
    if (this.subscriptions.has(topic)) return;
    this.subscriptions.add(topic);
    this.#matcher.add(topic);
  }
}

/** The gate for every connection, and the aedes hooks that finish its checks (token, subscribe). */
export class Gate {
  readonly connections = new Set<Connection>();
  readonly #byDuplex = new WeakMap<Duplex, Connection>();

  constructor(
    readonly registry: Registry,
    readonly uplinkIntervalMs: number,
    /** Called when a device's connection is gone (the platform fails what waits for its replies). */
    readonly onOffline: (device: DeviceState) => void,
  ) {}

  /** A new device socket; returns the stream aedes should handle in its place. */
  accept(socket: Socket): Duplex {
    const conn = new Connection(socket, this);
    this.connections.add(conn);
    this.#byDuplex.set(conn.duplex, conn);
    return conn.duplex;
  }

  connOf(client: Client | null): Connection | undefined {
    return client ? this.#byDuplex.get(client.conn as Duplex) : undefined;
  }

  /** aedes `authenticate`: the token, and clientId/username consistent with its res. */
  authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    const conn = this.connOf(client);
    const result = verifyToken({
      token: password?.toString("utf8"),
      product: username,
      device: client.id,
      nowSeconds: Math.floor(this.registry.clock.now() / 1000),
      keyFor: (level, product, device) => this.registry.keyFor(level, product, device),
    });
    if (result.ok) {
      done(null, true);
      return;
    }
    const reason = `${result.code} ${LOGIN_CODES[result.code]}`;
    this.registry.log("WARN", `login failed: ${reason}`, `${conn?.label() ?? `device=${client.id}`} connack=4`);
    this.registry.deviceLog(conn?.device, "warn", `login failed (CONNACK 4): ${reason}`);
    const error = Object.assign(new Error(`login failed: ${reason}`), { returnCode: 4 }) as AuthenticateError;
    done(error, null);
  }

  /** aedes `authorizeSubscribe`: only the device's own space, at most 10 topics (0x80 otherwise). */
  authorizeSubscribe(client: Client, sub: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void): void {
    const conn = this.connOf(client);
    if (!conn) return callback(null, null);
    const prefix = `$sys/${conn.username}/${conn.clientId}/`;
    if (!sub.topic.startsWith(prefix)) {
      this.registry.deviceLog(conn.device, "warn", `subscribe refused (outside ${prefix}): ${sub.topic}`, true);
      return callback(null, null);
    }
    if (!conn.subscriptions.has(sub.topic) && conn.subscriptions.size >= MAX_SUBSCRIPTIONS) {
      this.registry.deviceLog(conn.device, "warn", `subscribe refused (more than ${MAX_SUBSCRIPTIONS} topics): ${sub.topic}`, true);
      return callback(null, null);
    }
    conn.addSubscription(sub.topic);
    this.subscriptionsChanged(conn);
    callback(null, sub); // QoS already lowered to 0 by the gate
  }

  subscriptionsChanged(conn: Connection): void {
    const device = conn.device;
    if (device && device.link === conn) this.registry.subscriptionsChanged(device);
  }

  /** aedes `clientReady`: CONNACK 0 went out. */
  clientReady(client: Client): void {
    const conn = this.connOf(client);
    if (!conn || !conn.device) return;
    conn.state = "open";
    this.registry.setLink(conn.device, conn);
    this.subscriptionsChanged(conn);
  }

  keepaliveTimeout(client: Client): void {
    const conn = this.connOf(client);
    this.registry.log("WARN", "keepalive timeout (no uplink for 1.5 x keepalive)", conn?.label() ?? `device=${client.id}`);
    this.registry.deviceLog(conn?.device, "warn", "keepalive timeout: disconnected");
  }

  connectionClosed(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    const device = conn.device;
    if (!device || device.link !== conn) return;
    this.registry.setLink(device, undefined);
    this.onOffline(device);
  }

  /** Close the device's link from the platform side (console/API "Disconnect"). */
  kick(product: string, deviceName: string): boolean {
    const device = this.registry.get(product, deviceName);
    const link = device?.link;
    if (!device || !link) return false;
    this.registry.log("INFO", "disconnect requested from the console/API", link.label());
    this.registry.deviceLog(device, "warn", "disconnected from the console/API");
    link.close(true);
    return true;
  }

  closeAll(): void {
    for (const conn of [...this.connections]) conn.close(true);
  }
}
