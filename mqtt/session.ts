// The MQTT 3.1.1 client session, sans-I/O (in the style of h11 / quinn-proto): no socket, no timer,
// no clock. Inputs are API calls, decoded packets from the broker, transport up/down notices and the
// current time `now` (ms, any monotonic origin). Outputs are drained by the host:
//   pollTransmit()  packets to encode and write, in order;
//   pollEvent()     events: host actions ("open", "close") and app events ("connect", "message", ...);
//   nextDeadline()  when to call handleTimeout(now) next.
// Everything is deterministic: jitter comes from an injected random source.
//
// Spec statements this file implements are cited as [MQTT-x.y.z-n] (MQTT 3.1.1, OASIS 2014).

import type {
  ConnackReturnCode,
  GrantedQoS,
  Packet,
  PacketInput,
  PublishPacket,
  QoS,
  Subscription,
  Will,
} from "./packets";
import { Outbox, QUEUED, RELEASED, SENT, type OutboxEntry } from "./outbox";
import { stringProblem, topicFilterProblem, topicNameProblem } from "./validate";
import { utf8Encode } from "../lib/utf8";
import { Backoff } from "../lib/backoff";
import { SILENT, type Logger } from "../lib/log";

/** Bad local input (options, API arguments): the message names the field. */
export class MqttUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MqttUsageError";
  }
}

export interface SessionOptions {
  clientId: string;
  /** CleanSession flag (default true). */
  clean?: boolean;
  /** Keepalive in seconds, 0 disables (default 60) [MQTT-3.1.2.10]. */
  keepalive?: number;
  username?: string;
  /** Or a function asked at every CONNECT, for credentials that expire (e.g. a signed token). */
  password?: string | Uint8Array | (() => Uint8Array);
  will?: Will;
  /** Most outgoing QoS 1/2 messages awaiting acknowledgement (default 16). */
  maxInflight?: number;
  /** Time allowed to open the transport, and again to get CONNACK (ms, default 30000). */
  connectTimeout?: number;
  /** First reconnect delay (ms, default 1000); doubles per failure up to reconnectMax (default 60000). */
  reconnectMin?: number;
  reconnectMax?: number;
  /** Delay after a refused CONNACK (ms, default 30000), doubling up to refusedMax (default 600000). */
  refusedMin?: number;
  refusedMax?: number;
  /** A connection that stayed up this long has proved itself (ms, default 60000); see connectionProved(). */
  proveAfter?: number;
  /** At most loginBurst logins (CONNECTs) in any loginWindow ms (default 3 per 5000: OneNET's limit, docs/onenet.md). */
  loginBurst?: number;
  loginWindow?: number;
  /** Retry of a subscription the broker refused (SUBACK 0x80): first delay (ms, default 5000), doubling up to subscribeRetryMax (default 300000). */
  subscribeRetryMin?: number;
  subscribeRetryMax?: number;
  /**
   * Random source in [0, 1) for backoff jitter (default Math.random: on the ESP32 Moddable's XS draws
   * it from the hardware generator, so devices do not share a sequence).
   */
  random?: () => number;
  /** The message store; default an in-memory outbox of 100 messages / 32 KB. */
  outbox?: Outbox;
  /** Most topic filters per SUBSCRIBE when restoring subscriptions (default 8, OneNET's limit). */
  subscribeBatch?: number;
  /** The app's logger; session lines use area "mqtt". Default: silent. */
  log?: Logger;
  /** First packet identifier to try (1..65535, default 1). For tests of the wrap. */
  firstPacketId?: number;
}


export type SessionEvent =
  /** Host: open the transport now, then call transportUp(now) or transportDown(now, reason). */
  | { type: "open" }
  /** Host: close the transport (when `graceful`, after writing every packet already polled). */
  | { type: "close"; reason: string; graceful: boolean }
  /** CONNACK accepted. */
  | { type: "connect"; sessionPresent: boolean }
  /** The connection is gone (after "connect"); the session reconnects by itself unless ended. */
  | { type: "offline"; reason: string }
  /** CONNACK refused: `reason` spells the return code. */
  | { type: "refused"; returnCode: ConnackReturnCode; reason: string }
  /** A message from the broker (delivered once per PUBLISH, exactly once for QoS 2). */
  | { type: "message"; packet: PublishPacket }
  /** A published message is done: QoS 0 written, QoS 1 PUBACK, QoS 2 PUBCOMP. `seq` from publish(). */
  | { type: "delivered"; seq: number; qos: QoS }
  /** Answer to a subscribe() request (token from subscribe()). */
  | { type: "suback"; token: number; topics: string[]; granted: GrantedQoS[] }
  /** Answer to an unsubscribe() request (token from unsubscribe()). */
  | { type: "unsuback"; token: number; topics: string[] }
  /** end() has finished: the session is closed for good. */
  | { type: "end" };

/** CONNACK return codes spelled out [MQTT-3.2.2.3, table 3.1]. */
const CONNACK_REASONS: readonly string[] = Object.freeze([
  "accepted",
  "unacceptable protocol version",
  "identifier rejected",
  "server unavailable",
  "bad user name or password",
  "not authorized",
]);

export type SessionState = "idle" | "waiting" | "opening" | "connecting" | "connected" | "ended";

interface Request {
  kind: "subscribe" | "unsubscribe";
  token: number;
  topics: string[];
  qos: QoS[];
  /** 0 while not sent on the current connection. */
  messageId: number;
}

/** The session's own view of the counters it publishes read-only. */
interface Counters {
  packetsQueued: number;
  eventsQueued: number;
}

const INTERNAL = 0; // token of the SUBSCRIBE packets that restore subscriptions

export class Session {
  readonly clientId: string;
  readonly clean: boolean;
  readonly keepalive: number;
  readonly maxInflight: number;
  readonly outbox: Outbox;
  #username: string | undefined;
  #password: Uint8Array | (() => Uint8Array) | undefined;
  #will: Will | undefined;
  #connectTimeout: number;
  // Reconnect delays after a lost connection, and the longer ones after a refused CONNACK.
  #reconnect: Backoff;
  #refused: Backoff;
  #subscribeBatch: number;
  readonly #log: Logger;
  readonly #proveAfter: number;
  // Login times (CONNECT sent), a ring of the last loginBurst; #loginHead is the oldest once full.
  readonly #logins: number[];
  #loginHead = 0;
  #loginCount = 0;
  readonly #loginWindow: number;

  #state: SessionState = "idle";
  // The last topic name publish() found valid ("" until then, which is never valid): a device publishes
  // to a few fixed topics, and on XS checking a 46-character topic costs ~1,800 computrons, more than
  // the rest of publish().
  #checkedTopic = "";
  #networkUp = true;
  #deadline = -1; // -1: none
  #nextBackoff = 0; // the delay used for the last scheduled reconnect (for tests and logs)
  #connectedAt = 0;
  #proved = false;

  // Outgoing queue bookkeeping: entries [0, #next) of the outbox are in flight (SENT/RELEASED);
  // entries from #next on are QUEUED.
  #next = 0;
  #inflight = 0;
  // Packet identifiers in use, by owner (outgoing publish or subscribe/unsubscribe request).
  #ids = new Map<number, OutboxEntry | Request>();
  #lastId: number;
  // Inbound QoS 2 identifiers held from PUBLISH to PUBREL [MQTT-4.3.3-2].
  #inbound = new Set<number>();
  // Subscriptions the app wants (topic filter -> QoS), and requests not yet answered.
  #subs = new Map<string, QoS>();
  #requests: Request[] = [];
  #nextToken = 1;
  // Subscriptions the broker refused (SUBACK 0x80), asked for again at #subRetryAt (-1: not scheduled).
  #refusedSubs = new Map<string, QoS>();
  #subRetry: Backoff;
  #subRetryAt = -1;

  // Keepalive: a PINGREQ after keepalive of silence either way; the link is dead after 1.5 x keepalive
  // without a packet from the broker (ms).
  readonly #keepaliveMs: number;
  readonly #silenceMs: number;
  #lastTx = 0;
  #lastRx = 0;
  #pingOutstanding = false;

  /**
   * What pollTransmit and pollEvent have to give. A host reads these before polling: on XS a property
   * read costs a tenth of the call that would find the queue empty. Only the session changes them.
   */
  readonly packetsQueued: number = 0;
  readonly eventsQueued: number = 0;
  #tx: PacketInput[] = [];
  #txHead = 0;
  #events: SessionEvent[] = [];
  #eventHead = 0;

  constructor(options: SessionOptions) {
    const clientIdProblem = stringProblem(options.clientId);
    if (clientIdProblem !== "") throw new MqttUsageError(`clientId: ${clientIdProblem}`);
    this.clientId = options.clientId;
    this.clean = options.clean ?? true;
    if (!this.clean && options.clientId === "") {
      throw new MqttUsageError("clientId must not be empty when clean is false [MQTT-3.1.3-7]");
    }
    const keepalive = options.keepalive ?? 60;
    if (!(keepalive >= 0 && keepalive <= 65535) || keepalive !== Math.floor(keepalive)) {
      throw new MqttUsageError(`keepalive must be a whole number of seconds 0..65535, got ${String(keepalive)}`);
    }
    this.keepalive = keepalive;
    this.#keepaliveMs = keepalive * 1000;
    this.#silenceMs = keepalive * 1500;
    const maxInflight = options.maxInflight ?? 16;
    if (!(maxInflight >= 1 && maxInflight <= 65535) || maxInflight !== Math.floor(maxInflight)) {
      throw new MqttUsageError(`maxInflight must be a whole number 1..65535, got ${String(maxInflight)}`);
    }
    this.maxInflight = maxInflight;
    this.#username = options.username;
    if (options.password !== undefined && options.username === undefined) {
      throw new MqttUsageError("password needs a username [MQTT-3.1.2-22]");
    }
    const password = options.password;
    this.#password = typeof password === "string" ? utf8Encode(password) : password;
    this.#will = options.will;
    this.#connectTimeout = positive(options.connectTimeout ?? 30000, "connectTimeout");
    // Jitter: between half and all of each delay, so a fleet does not reconnect in step.
    const jitter = { low: 0.5, high: 1, random: options.random ?? Math.random };
    const reconnectMin = positive(options.reconnectMin ?? 1000, "reconnectMin");
    this.#reconnect = new Backoff({ ...jitter, min: reconnectMin, max: positive(options.reconnectMax ?? 60000, "reconnectMax") });
    const refusedMin = positive(options.refusedMin ?? 30000, "refusedMin");
    this.#refused = new Backoff({ ...jitter, min: refusedMin, max: positive(options.refusedMax ?? 600000, "refusedMax") });
    this.#subscribeBatch = positive(options.subscribeBatch ?? 8, "subscribeBatch");
    this.#subRetry = new Backoff({
      ...jitter,
      min: positive(options.subscribeRetryMin ?? 5000, "subscribeRetryMin"),
      max: positive(options.subscribeRetryMax ?? 300000, "subscribeRetryMax"),
    });
    this.#proveAfter = positive(options.proveAfter ?? 60000, "proveAfter");
    const burst = positive(options.loginBurst ?? 3, "loginBurst");
    if (burst !== Math.floor(burst)) throw new MqttUsageError(`loginBurst must be a whole number, got ${String(burst)}`);
    this.#logins = new Array<number>(burst).fill(0);
    this.#loginWindow = positive(options.loginWindow ?? 5000, "loginWindow");
    this.#log = options.log ?? SILENT;
    this.outbox = options.outbox ?? new Outbox();
    if (!this.outbox.warn) {
      const log = this.#log;
      this.outbox.warn = (m) => log.log("WARN", "mqtt", m);
    }
    // Loads what storage holds for this client, and only that (see the outbox's Identity note).
    this.outbox.bind(options.clientId, options.username);
    const first = options.firstPacketId ?? 1;
    if (!(first >= 1 && first <= 65535)) throw new MqttUsageError("firstPacketId must be 1..65535");
    this.#lastId = first - 1;
    // Messages restored from storage: QoS 2 ones that had reached PUBREL keep their identifier so a
    // resumed session can finish them; the others are sent again.
    this.#resetInflight(false);
  }

  // ---------------------------------------------------------------------------------------------
  // Outputs

  /** Next packet to write, or undefined. The packet is valid until the next call into the session. */
  pollTransmit(): PacketInput | undefined {
    const tx = this.#tx;
    const head = this.#txHead;
    if (head >= tx.length) return undefined;
    const packet = tx[head];
    // Emptied by the poll that takes the last one: a host that reads packetsQueued never polls an empty queue.
    if (head + 1 === tx.length) {
      tx.length = 0;
      this.#txHead = 0;
    } else this.#txHead = head + 1;
    (this as Counters).packetsQueued--;
    return packet;
  }

  pollEvent(): SessionEvent | undefined {
    const events = this.#events;
    const head = this.#eventHead;
    if (head >= events.length) return undefined;
    const event = events[head];
    if (head + 1 === events.length) {
      events.length = 0;
      this.#eventHead = 0;
    } else this.#eventHead = head + 1;
    (this as Counters).eventsQueued--;
    return event;
  }

  /** When handleTimeout should be called next (ms, same clock as `now`), or -1 for never. */
  nextDeadline(): number {
    // The host asks after every event: no helper calls here (on XS a call costs as much as the
    // arithmetic), and the keepalive intervals are computed once.
    const state = this.#state;
    let next = this.#deadline;
    if (state === "connected") {
      const k = this.#keepaliveMs;
      if (k !== 0) {
        const lastRx = this.#lastRx;
        next = lastRx + this.#silenceMs;
        if (!this.#pingOutstanding) {
          const lastTx = this.#lastTx;
          const ping = (lastTx < lastRx ? lastTx : lastRx) + k;
          if (ping < next) next = ping;
        }
      }
      const retry = this.#subRetryAt;
      if (retry >= 0 && (next < 0 || retry < next)) next = retry;
    } else if (state === "ended") return next;
    const persist = this.outbox.nextPersist();
    return persist >= 0 && (next < 0 || persist < next) ? persist : next;
  }

  get state(): SessionState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === "connected";
  }

  /** Outgoing QoS 1/2 messages awaiting acknowledgement. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Inbound QoS 2 packet identifiers held until PUBREL. */
  get inboundHeld(): number {
    return this.#inbound.size;
  }

  /** The delay chosen for the last scheduled reconnect (ms). */
  get lastBackoff(): number {
    return this.#nextBackoff;
  }

  /** Subscriptions the session keeps (restored after a reconnect that lost the broker's session). */
  get subscriptions(): ReadonlyMap<string, QoS> {
    return this.#subs;
  }

  // ---------------------------------------------------------------------------------------------
  // Connection lifecycle

  /** Starts connecting (at once). */
  start(now: number): void {
    if (this.#state !== "idle") return;
    this.#state = "waiting";
    this.#deadline = this.#networkUp ? now : -1;
    if (this.#networkUp) this.handleTimeout(now);
  }

  /** The transport the session asked for ("open") is up: sends CONNECT. */
  transportUp(now: number): void {
    if (this.#state !== "opening") return;
    this.#state = "connecting";
    this.#logins[this.#loginHead] = now;
    this.#loginHead = (this.#loginHead + 1) % this.#logins.length;
    if (this.#loginCount < this.#logins.length) this.#loginCount++;
    this.#deadline = now + this.#connectTimeout;
    this.#lastRx = now;
    this.#pingOutstanding = false;
    this.#send(
      {
        cmd: "connect",
        clientId: this.clientId,
        clean: this.clean,
        keepalive: this.keepalive,
        will: this.#will,
        username: this.#username,
        password: typeof this.#password === "function" ? this.#password() : this.#password,
      },
      now,
    );
  }

  /** The transport closed or failed (not after a "close" the session asked for). */
  transportDown(now: number, reason: string): void {
    if (this.#state !== "opening" && this.#state !== "connecting" && this.#state !== "connected") return;
    this.#lost(now, reason, false);
  }

  /**
   * The app saw the connection work end to end (e.g. the platform answered a post): the next loss
   * reconnects after reconnectMin again. Without it, a connection proves itself by lasting proveAfter.
   */
  connectionProved(): void {
    if (this.#state === "connected") this.#proved = true;
  }

  /** The network layer lost its link: close the transport and wait for networkUp. */
  networkDown(now: number): void {
    if (!this.#networkUp) return;
    this.#networkUp = false;
    if (this.#state === "opening" || this.#state === "connecting" || this.#state === "connected") {
      this.#lost(now, "network down", true);
    }
    if (this.#state === "waiting") this.#deadline = -1;
  }

  /** The network is back: reconnect now. */
  networkUp(now: number): void {
    if (this.#networkUp) return;
    this.#networkUp = true;
    if (this.#state === "waiting") {
      this.#deadline = now;
      this.handleTimeout(now);
    }
  }

  /** Ends the session: DISCONNECT if connected, then close; no reconnect. Queued messages stay in the outbox. */
  end(now: number): void {
    if (this.#state === "ended") return;
    const wasConnected = this.#state === "connected";
    const active = wasConnected || this.#state === "opening" || this.#state === "connecting";
    // What is held in memory only must survive the restart that usually follows.
    this.outbox.persistDue(now, true);
    if (!wasConnected) this.#dropConnectionState(true);
    else {
      this.#dropConnectionState(false); // packets already queued still go, then DISCONNECT
      this.#send({ cmd: "disconnect" }, now);
    }
    this.#state = "ended";
    this.#deadline = -1;
    if (active) this.#event({ type: "close", reason: "end", graceful: wasConnected });
    if (wasConnected) this.#event({ type: "offline", reason: "end" });
    this.#event({ type: "end" });
  }

  /** Time has passed: keepalive, connect timeouts, reconnects, storing messages that waited. */
  handleTimeout(now: number): void {
    if (this.#state !== "ended") this.outbox.persistDue(now);
    switch (this.#state) {
      case "waiting":
        if (this.#networkUp && this.#deadline >= 0 && now >= this.#deadline) {
          const allowed = this.#loginCount < this.#logins.length ? now : this.#logins[this.#loginHead] + this.#loginWindow;
          if (now < allowed) {
            // The platform counts logins, not our backoff: a broker that accepts and drops at once
            // would otherwise see one login per reconnectMin.
            this.#deadline = allowed;
            this.#log.log("INFO", "mqtt", "login rate limit: next login deferred", { delay: allowed - now });
            return;
          }
          this.#state = "opening";
          this.#deadline = now + this.#connectTimeout;
          this.#event({ type: "open" });
        }
        return;
      case "opening":
        if (now >= this.#deadline) this.#lost(now, "connect timeout (transport)", true);
        return;
      case "connecting":
        if (now >= this.#deadline) this.#lost(now, "connect timeout (no CONNACK)", true);
        return;
      case "connected": {
        const k = this.#keepaliveMs;
        if (k === 0) {
          this.#retrySubscriptions(now);
          return;
        }
        if (now >= this.#lastRx + this.#silenceMs) {
          // Nothing from the broker for 1.5 x keepalive: the link is dead even if TCP says nothing.
          this.#lost(now, `keepalive timeout, nothing received for ${now - this.#lastRx} ms`, true);
          return;
        }
        if (!this.#pingOutstanding && (now >= this.#lastTx + k || now >= this.#lastRx + k)) {
          // [MQTT-3.1.2-23]: a control packet at least every keepalive; PINGREQ when idle [MQTT-3.1.2.10].
          this.#pingOutstanding = true;
          this.#send({ cmd: "pingreq" }, now);
        }
        this.#retrySubscriptions(now);
        return;
      }
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // App API

  /**
   * Accepts a message. Returns its sequence number (> 0), reported again in the "delivered" event,
   * or 0 when the outbox is full (the message is refused and a warning logged).
   * Throws MqttUsageError for an invalid topic or QoS.
   */
  publish(topic: string, payload: Uint8Array, qos: QoS, retain: boolean, now: number): number {
    if (this.#state === "ended") throw new MqttUsageError("publish after end()");
    if (topic === "" || topic !== this.#checkedTopic) {
      const topicProblem = stringProblem(topic) || topicNameProblem(topic);
      if (topicProblem !== "") throw new MqttUsageError(`publish: ${topicProblem}`);
      this.#checkedTopic = topic;
    }
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new MqttUsageError(`qos must be 0, 1 or 2, got ${String(qos)}`);
    if (!(payload instanceof Uint8Array)) throw new MqttUsageError("payload must be a Uint8Array");
    const connected = this.#state === "connected";
    if (connected && qos === 0 && this.#next === this.outbox.entries.length) {
      // Nothing waits ahead of it: it is written now, as #pump would, without entering the queue.
      const entry = this.outbox.pass(topic, payload, retain, now);
      if (!entry) return 0; // the outbox logged why
      this.#send(entry, now);
      this.#event({ type: "delivered", seq: entry.seq, qos: 0 });
      return entry.seq;
    }
    // Online the message is stored only if the broker is slow to acknowledge it (outbox: Flash wear).
    const entry = this.outbox.add(topic, payload, qos, retain, now, !connected);
    if (!entry) return 0; // the outbox logged why
    if (connected) this.#pump(now);
    return entry.seq;
  }

  /** Subscribes; the answer comes as a "suback" event with the returned token. */
  subscribe(subscriptions: Subscription[], now: number): number {
    if (this.#state === "ended") throw new MqttUsageError("subscribe after end()");
    if (!Array.isArray(subscriptions) || subscriptions.length === 0) {
      throw new MqttUsageError("subscribe needs at least one topic filter [MQTT-3.8.3-3]");
    }
    const topics: string[] = [];
    const qos: QoS[] = [];
    for (const s of subscriptions) {
      checkTopicFilter(s.topic, "subscribe");
      if (s.qos !== 0 && s.qos !== 1 && s.qos !== 2) {
        throw new MqttUsageError(`subscription qos must be 0, 1 or 2, got ${String(s.qos)}`);
      }
      topics.push(s.topic);
      qos.push(s.qos);
    }
    for (let i = 0; i < topics.length; i++) this.#subs.set(topics[i], qos[i]);
    const request: Request = { kind: "subscribe", token: this.#nextToken++, topics, qos, messageId: 0 };
    this.#requests.push(request);
    if (this.#state === "connected") this.#sendRequest(request, now);
    return request.token;
  }

  /** Unsubscribes; the answer comes as an "unsuback" event with the returned token. */
  unsubscribe(topics: string[], now: number): number {
    if (this.#state === "ended") throw new MqttUsageError("unsubscribe after end()");
    if (!Array.isArray(topics) || topics.length === 0) {
      throw new MqttUsageError("unsubscribe needs at least one topic filter [MQTT-3.10.3-2]");
    }
    for (const t of topics) checkTopicFilter(t, "unsubscribe");
    for (const t of topics) {
      this.#subs.delete(t);
      this.#refusedSubs.delete(t);
    }
    const request: Request = { kind: "unsubscribe", token: this.#nextToken++, topics: topics.slice(), qos: [], messageId: 0 };
    this.#requests.push(request);
    if (this.#state === "connected") this.#sendRequest(request, now);
    return request.token;
  }

  // ---------------------------------------------------------------------------------------------
  // Packets from the broker

  /** A packet decoded from the broker's stream. Protocol violations close the connection. */
  handlePacket(packet: Packet, now: number): void {
    const state = this.#state;
    if (state !== "connecting" && state !== "connected") return; // stale: the transport is gone
    this.#lastRx = now;
    if (state === "connecting") {
      if (packet.cmd !== "connack") {
        this.#violation(now, `expected CONNACK first, got ${packet.cmd.toUpperCase()} [MQTT-3.2.0-1]`);
        return;
      }
      this.#connack(packet.returnCode, packet.sessionPresent, now);
      return;
    }
    switch (packet.cmd) {
      case "publish":
        this.#inboundPublish(packet, now);
        return;
      case "connack":
        // CONNACK answers CONNECT, which goes once per connection [MQTT-3.1.0-2]; the spec has no
        // statement for a second one, so it is a protocol violation: close [MQTT-4.8.0-1].
        this.#violation(now, "second CONNACK on one connection [MQTT-3.2.0-1, 4.8.0-1]");
        return;
      case "pubrel":
        // Release the identifier and complete; a duplicate PUBREL (id already released) is answered
        // with PUBCOMP too [MQTT-4.3.3-2, 4.4.0-1].
        this.#inbound.delete(packet.messageId);
        this.#send({ cmd: "pubcomp", messageId: packet.messageId }, now);
        return;
      case "puback":
        this.#ack(packet.messageId, 1, now);
        return;
      case "pubrec":
        this.#pubrec(packet.messageId, now);
        return;
      case "pubcomp":
        this.#ack(packet.messageId, 2, now);
        return;
      case "suback":
        this.#suback(packet.messageId, packet.granted, now);
        return;
      case "unsuback":
        this.#unsuback(packet.messageId, now);
        return;
      case "pingresp":
        this.#pingOutstanding = false;
        return;
      default:
        this.#violation(now, `unexpected ${packet.cmd.toUpperCase()} from the broker`);
        return;
    }
  }

  /** The decoder refused the broker's bytes: close and reconnect. */
  protocolError(now: number, message: string): void {
    if (this.#state !== "connecting" && this.#state !== "connected") return;
    this.#violation(now, `protocol error: ${message}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  #send(packet: PacketInput, now: number): void {
    this.#tx.push(packet);
    (this as Counters).packetsQueued++;
    this.#lastTx = now;
  }

  #event(event: SessionEvent): void {
    this.#events.push(event);
    (this as Counters).eventsQueued++;
  }

  #violation(now: number, reason: string): void {
    this.#log.log("ERROR", "mqtt", "broker violated the protocol, closing", { reason });
    this.#lost(now, reason, true);
  }

  /** The connection is gone (or must go): schedule the reconnect. */
  #lost(now: number, reason: string, mustClose: boolean, refused = false): void {
    const wasConnected = this.#state === "connected";
    if (mustClose) this.#event({ type: "close", reason, graceful: false });
    this.#dropConnectionState(true);
    // Messages the broker had not acknowledged must now survive a reboot.
    this.outbox.persistDue(now, true);
    if (wasConnected) {
      // Only a connection that proved itself starts the backoff over: a broker (or a platform limit)
      // that accepts and drops at once must see the delays grow, not a login per reconnectMin.
      if (this.#proved || now - this.#connectedAt >= this.#proveAfter) this.#reconnect.reset();
      this.#event({ type: "offline", reason });
    }
    this.#state = "waiting";
    const delay = refused ? this.#refused.next() : this.#reconnect.next();
    this.#nextBackoff = delay;
    this.#deadline = this.#networkUp ? now + delay : -1;
    this.#log.log("INFO", "mqtt", "connection lost, reconnect scheduled", { reason, delay });
  }

  /** Forget what belonged to the connection: ids of requests, ping state. Messages stay. */
  #dropConnectionState(clearTx: boolean): void {
    this.#pingOutstanding = false;
    if (clearTx) {
      this.#tx.length = 0;
      this.#txHead = 0;
      (this as Counters).packetsQueued = 0;
    }
    for (const r of this.#requests) {
      if (r.messageId) this.#ids.delete(r.messageId);
      r.messageId = 0;
    }
  }

  #connack(returnCode: ConnackReturnCode, sessionPresent: boolean, now: number): void {
    if (returnCode !== 0) {
      const reason = `CONNACK refused code=${returnCode} (${CONNACK_REASONS[returnCode] ?? "unknown"})`;
      this.#event({ type: "refused", returnCode, reason });
      this.#log.log("ERROR", "mqtt", "connection refused", { code: returnCode, reason: CONNACK_REASONS[returnCode] ?? "unknown" });
      // Server unavailable is worth a normal retry; the others will not fix themselves soon.
      this.#lost(now, reason, true, returnCode !== 3);
      return;
    }
    if (this.clean && sessionPresent) {
      // [MQTT-3.2.2-1]: with CleanSession 1 the server must answer sessionPresent 0.
      this.#violation(now, "sessionPresent set for a clean session [MQTT-3.2.2-1]");
      return;
    }
    this.#state = "connected";
    this.#deadline = -1;
    this.#connectedAt = now;
    this.#proved = false;
    this.#refused.reset(); // the login itself is good; the reconnect backoff waits for proof
    const resumed = !this.clean && sessionPresent;
    if (!resumed) {
      // The broker has no state of ours: in-flight messages go again as new messages (new ids, no DUP),
      // in their original order, and held inbound QoS 2 ids are forgotten [MQTT-3.1.2-6].
      this.#inbound.clear();
      this.#resetInflight(true, now);
    }
    this.#event({ type: "connect", sessionPresent });
    if (resumed) {
      // [MQTT-4.4.0-1]: re-send unacknowledged PUBLISH (DUP set [MQTT-3.3.1-1]) and PUBREL, in the
      // original order [MQTT-4.6.0-1].
      const entries = this.outbox.entries;
      for (let i = 0; i < this.#next; i++) {
        const e = entries[i];
        if (e.state === SENT) {
          e.dup = true;
          this.#send(e, now);
        } else if (e.state === RELEASED) {
          this.#send({ cmd: "pubrel", messageId: e.messageId! }, now);
        }
      }
      for (const r of this.#requests) this.#sendRequest(r, now);
    } else {
      this.#restoreSubscriptions(now);
    }
    this.#pump(now);
  }

  /**
   * Puts every in-flight message back in the queue: released identifiers, DUP cleared.
   * `all` false (at construction): QoS 2 messages that reached PUBREL keep their state and id.
   */
  #resetInflight(all: boolean, now?: number): void {
    const entries = this.outbox.entries;
    this.#inflight = 0;
    for (const [id, owner] of this.#ids) if ("seq" in owner) this.#ids.delete(id);
    let next = 0;
    if (!all && !this.clean) {
      // A persistent session restored from storage: entries that were in flight keep their ids so
      // the DUP resend / PUBREL can complete them; they must come first in the outbox, which holds
      // since messages are sent in order.
      while (next < entries.length && entries[next].state !== QUEUED && entries[next].messageId !== undefined) {
        const e = entries[next];
        this.#ids.set(e.messageId!, e);
        this.#inflight++;
        next++;
      }
    }
    for (let i = next; i < entries.length; ) {
      const e = entries[i];
      if (e.state === RELEASED) {
        // PUBREC came: the broker owns this QoS 2 message; publishing it again could deliver it twice
        // [MQTT-4.3.3-1]. Without the broker's session there is nothing to release: it is done.
        this.outbox.removeAt(i, now);
        this.#log.log("INFO", "mqtt", "QoS 2 message past PUBREC counted delivered after session loss", { seq: e.seq });
        this.#event({ type: "delivered", seq: e.seq, qos: 2 });
        continue;
      }
      i++;
      if (e.state !== QUEUED || e.messageId !== undefined || e.dup) {
        e.state = QUEUED;
        e.messageId = undefined;
        e.dup = false;
      }
    }
    this.#next = next;
  }

  #restoreSubscriptions(now: number): void {
    // Requests still waiting are sent again as they are; the rest of the wanted subscriptions go
    // in batches. Pending unsubscribes are done: the new session has no subscriptions.
    const pending = new Set<string>();
    const requests = this.#requests;
    for (let i = 0; i < requests.length; ) {
      const r = requests[i];
      if (r.kind === "unsubscribe") {
        requests.splice(i, 1);
        this.#event({ type: "unsuback", token: r.token, topics: r.topics });
        continue;
      }
      for (const t of r.topics) pending.add(t);
      i++;
    }
    const restore: Request[] = [];
    let batch: Request | undefined;
    let count = 0;
    for (const [topic, qos] of this.#subs) {
      if (pending.has(topic)) continue;
      if (!batch) {
        batch = { kind: "subscribe", token: INTERNAL, topics: [], qos: [], messageId: 0 };
        restore.push(batch);
      }
      batch.topics.push(topic);
      batch.qos.push(qos);
      count++;
      if (batch.topics.length >= this.#subscribeBatch) batch = undefined;
    }
    if (count) this.#log.log("INFO", "mqtt", "restoring subscriptions", { count });
    // Refused ones are among them: their SUBACK decides again (the retry backoff keeps growing).
    this.#subRetryAt = -1;
    // Restored subscriptions first, in the order they were made; then the app's waiting requests.
    this.#requests = restore.concat(requests);
    for (const r of this.#requests) this.#sendRequest(r, now);
  }

  /** Asks again, in batches, for the subscriptions the broker refused, once their retry is due. */
  #retrySubscriptions(now: number): void {
    if (this.#subRetryAt < 0 || now < this.#subRetryAt) return;
    this.#subRetryAt = -1;
    if (this.#refusedSubs.size === 0) return; // unsubscribed meanwhile
    const batches: Request[] = [];
    let batch: Request | undefined;
    for (const [topic, qos] of this.#refusedSubs) {
      if (!batch) {
        batch = { kind: "subscribe", token: INTERNAL, topics: [], qos: [], messageId: 0 };
        batches.push(batch);
      }
      batch.topics.push(topic);
      batch.qos.push(qos);
      if (batch.topics.length >= this.#subscribeBatch) batch = undefined;
    }
    this.#log.log("INFO", "mqtt", "asking again for refused subscriptions", { count: this.#refusedSubs.size });
    for (const b of batches) {
      this.#requests.push(b);
      this.#sendRequest(b, now);
    }
  }

  #sendRequest(request: Request, now: number): void {
    const id = this.#allocateId(request);
    if (id === 0) {
      this.#log.log("WARN", "mqtt", "no free packet identifier, request waits");
      return;
    }
    request.messageId = id;
    if (request.kind === "subscribe") {
      const subscriptions: Subscription[] = [];
      for (let i = 0; i < request.topics.length; i++) subscriptions.push({ topic: request.topics[i], qos: request.qos[i] });
      this.#send({ cmd: "subscribe", messageId: id, subscriptions }, now);
    } else {
      this.#send({ cmd: "unsubscribe", messageId: id, unsubscriptions: request.topics }, now);
    }
  }

  /** Next free packet identifier after the last one, 1..65535 wrapping, never one in use [MQTT-2.3.1-2]. */
  #allocateId(owner: OutboxEntry | Request): number {
    const ids = this.#ids;
    if (ids.size >= 65535) return 0;
    let id = this.#lastId;
    do {
      id = id >= 65535 ? 1 : id + 1;
    } while (ids.has(id));
    this.#lastId = id;
    ids.set(id, owner);
    return id;
  }

  /** Sends queued messages while the in-flight window allows. */
  #pump(now: number): void {
    const outbox = this.outbox;
    const entries = outbox.entries;
    while (this.#next < entries.length) {
      const e = entries[this.#next];
      if (e.qos === 0) {
        outbox.removeAt(this.#next, now);
        this.#send(e, now);
        this.#event({ type: "delivered", seq: e.seq, qos: 0 });
        continue;
      }
      if (this.#inflight >= this.maxInflight) return;
      const id = this.#allocateId(e);
      if (id === 0) return;
      e.messageId = id;
      e.state = SENT;
      e.dup = false;
      this.#inflight++;
      this.#next++;
      if (!this.clean) outbox.update(e, now); // a resumed session after a reboot needs the id
      this.#send(e, now);
    }
  }

  #ack(messageId: number, qos: 1 | 2, now: number): void {
    const owner = this.#ids.get(messageId);
    const expected = qos === 1 ? SENT : RELEASED;
    if (!owner || !("seq" in owner) || owner.qos !== qos || owner.state !== expected) {
      this.#log.log("WARN", "mqtt", `${qos === 1 ? "PUBACK" : "PUBCOMP"} for an unknown packet id ignored`, { id: messageId });
      return;
    }
    this.#ids.delete(messageId);
    const index = this.outbox.indexOf(owner);
    if (index >= 0) {
      this.outbox.removeAt(index, now);
      if (index < this.#next) this.#next--;
    }
    this.#inflight--;
    this.#event({ type: "delivered", seq: owner.seq, qos });
    this.#pump(now);
  }

  #pubrec(messageId: number, now: number): void {
    const owner = this.#ids.get(messageId);
    if (!owner || !("seq" in owner) || owner.qos !== 2) {
      this.#log.log("WARN", "mqtt", "PUBREC for an unknown packet id ignored", { id: messageId });
      return;
    }
    if (owner.state === SENT) {
      owner.state = RELEASED;
      // Once PUBREC arrived the message must never be published again, only released [MQTT-4.3.3-1].
      this.outbox.update(owner, now);
    }
    this.#send({ cmd: "pubrel", messageId }, now);
  }

  #inboundPublish(packet: PublishPacket, now: number): void {
    if (packet.qos === 0) {
      this.#event({ type: "message", packet });
    } else if (packet.qos === 1) {
      this.#event({ type: "message", packet });
      this.#send({ cmd: "puback", messageId: packet.messageId! }, now);
    } else {
      // Exactly once: deliver on the first PUBLISH with this id, hold the id until PUBREL; a
      // duplicate (DUP resend) is acknowledged again but not delivered [MQTT-4.3.3-2].
      const id = packet.messageId!;
      if (!this.#inbound.has(id)) {
        this.#inbound.add(id);
        this.#event({ type: "message", packet });
      }
      this.#send({ cmd: "pubrec", messageId: id }, now);
    }
  }

  #takeRequest(messageId: number, kind: "subscribe" | "unsubscribe"): Request | undefined {
    const owner = this.#ids.get(messageId);
    if (!owner || "seq" in owner || owner.kind !== kind) return undefined;
    this.#ids.delete(messageId);
    const index = this.#requests.indexOf(owner);
    if (index >= 0) this.#requests.splice(index, 1);
    return owner;
  }

  #suback(messageId: number, granted: GrantedQoS[], now: number): void {
    const request = this.#takeRequest(messageId, "subscribe");
    if (!request) {
      this.#log.log("WARN", "mqtt", "SUBACK for an unknown packet id ignored", { id: messageId });
      return;
    }
    if (granted.length !== request.topics.length) {
      this.#violation(now, `SUBACK has ${granted.length} return codes for ${request.topics.length} filters [MQTT-3.8.4-5]`);
      return;
    }
    for (let i = 0; i < granted.length; i++) {
      const topic = request.topics[i];
      // Only while the app still wants it as asked (it may have unsubscribed or changed the QoS since).
      const wanted = this.#subs.get(topic) === request.qos[i];
      if (granted[i] === 0x80) {
        if (wanted) {
          // Kept and asked for again with backoff (and restored after every reconnect), so a broker
          // that refuses for a while (an ACL not ready yet, a limit) does not cut the downlink until reboot.
          this.#refusedSubs.set(topic, request.qos[i]);
          if (this.#subRetryAt < 0) this.#subRetryAt = now + this.#subRetry.next();
        }
        this.#log.log("WARN", "mqtt", "subscription refused by the broker", { topic, retry: wanted ? this.#subRetryAt - now : -1 });
      } else if (this.#refusedSubs.delete(topic)) {
        this.#log.log("INFO", "mqtt", "subscription granted after refusals", { topic });
        if (this.#refusedSubs.size === 0) {
          this.#subRetry.reset();
          this.#subRetryAt = -1;
        }
      }
    }
    if (request.token !== INTERNAL) {
      this.#event({ type: "suback", token: request.token, topics: request.topics, granted });
    }
  }

  #unsuback(messageId: number, _now: number): void {
    const request = this.#takeRequest(messageId, "unsubscribe");
    if (!request) {
      this.#log.log("WARN", "mqtt", "UNSUBACK for an unknown packet id ignored", { id: messageId });
      return;
    }
    this.#event({ type: "unsuback", token: request.token, topics: request.topics });
  }
}

function positive(value: number, name: string): number {
  if (typeof value !== "number" || !(value > 0) || !isFinite(value)) {
    throw new MqttUsageError(`${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

/** Topic filters from the app: an MqttUsageError naming the rule and the call when invalid. */
function checkTopicFilter(filter: string, call: string): void {
  const problem = stringProblem(filter) || topicFilterProblem(filter);
  if (problem !== "") throw new MqttUsageError(`${call}: ${problem}`);
}
