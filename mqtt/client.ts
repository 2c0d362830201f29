// MQTT 3.1.1 client for Moddable: binds the sans-I/O Session (./session) to a classic Moddable
// `Socket` and one `Timer`. Owns the transport: opens it when the session asks, feeds received bytes
// through the streaming Decoder, and writes through a queue that honours socket backpressure
// (write() reports the free send space; the all-or-nothing write is never tripped, the app loop is
// never blocked, packets are never reordered).
//
//   const client = new MqttClient({ host, port, clientId, username, password, keepalive: 60 });
//   client.onConnect = (sessionPresent) => { ... };
//   client.onMessage = (topic, payload, packet) => { ... };
//   client.onClose = (reason) => { ... };
//   client.connect();
//   client.subscribe("$sys/pid/dev/thing/#", { qos: 0 });
//   client.publish("$sys/pid/dev/thing/property/post", payload, { qos: 1 });
//
// The client reconnects by itself (backoff with jitter) until end(). Tell it about Wi-Fi with
// networkDown() / networkUp(): while the network is down it does not try. Tell it when the
// connection has proved itself end to end with connectionProved(): only then does the backoff start
// over (or after proveAfter, 60 s up).
//
// All its times come from one Uptime (lib/time): the board's Time.ticks turns negative after 24.8
// days and wraps after 49.7, so raw ticks are never compared or subtracted here.

import { Socket, type SocketMessage } from "socket";
import SecureSocket, { type SecureOptions } from "securesocket";
import Timer from "timer";
import Time from "time";
import { Decoder } from "./decode";
import { Encoder, encodedLength } from "./encode";
import { ProtocolError } from "./validate";
import type { GrantedQoS, Packet, PacketInput, PublishPacket, QoS, Subscription } from "./packets";
import { MqttUsageError, Session, type SessionEvent, type SessionOptions } from "./session";
import { Outbox, type OutboxStorage } from "./outbox";
import { utf8Encode } from "../lib/utf8";
import { Uptime } from "../lib/time";
import { SILENT, type Fields, type Level, type Logger } from "../lib/log";

export interface ClientOptions extends Omit<SessionOptions, "log" | "outbox"> {
  /** Broker DNS name (or use `address`). */
  host?: string;
  /** Broker IPv4 address literal. */
  address?: string;
  /** Broker port (default 1883). */
  port?: number;
  /**
   * TLS: open a `SecureSocket` (module "securesocket") with these options instead of a plain Socket.
   * CONNECT goes out only after its handshake, certificate checks included, has succeeded.
   */
  secure?: SecureOptions;
  /** Largest packet accepted from the broker, bytes (default 16384). */
  maxPacketSize?: number;
  /** An outbox to use (e.g. one with persistent storage); default: built from the options below. */
  outbox?: Outbox;
  /** Outbox limits when the client builds it (defaults 100 messages, 32768 bytes). */
  outboxMessages?: number;
  outboxBytes?: number;
  /** Persist the outbox through this storage (see PreferenceStorage in ./storage). */
  storage?: OutboxStorage;
  /** Store a message accepted online only once it has waited this long unacknowledged (ms, default 5000). */
  persistAfter?: number;
  /** The app's clock (default: one of its own over Time.ticks); give the app's so there is one. */
  uptime?: Uptime;
  /** The app's logger; lines use area "mqtt". Default: silent. */
  log?: Logger;
  /** Log area (default "mqtt"). */
  area?: string;
}

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
}

export interface SubscribeOptions {
  qos?: QoS;
}

type SubscribeCallback = (granted: GrantedQoS[], topics: string[]) => void;
type UnsubscribeCallback = (topics: string[]) => void;


/** Scratch size for coalescing queued packets into one socket write (one lwIP MSS). */
const SCRATCH = 1436;
/** Why a SecureSocket failed before its handshake finished: the SDK reports all of these as -2. */
const TLS_ERROR_CAUSE = "no connection (refused or reset), or the certificate was refused (not from the trusted CA, outside its dates, or not for this host), or a TLS alert";

export class MqttClient {
  /** CONNACK accepted; `sessionPresent` from the broker. */
  onConnect: ((sessionPresent: boolean) => void) | undefined;
  /** A message from the broker (QoS 2: exactly once). `payload` stays valid (not reused). */
  onMessage: ((topic: string, payload: Uint8Array, packet: PublishPacket) => void) | undefined;
  /** The connection closed (the client reconnects by itself unless end() was called). */
  onClose: ((reason: string) => void) | undefined;
  /** A published message is done (QoS 0 written, QoS 1 PUBACK, QoS 2 PUBCOMP); `seq` from publish(). */
  onDelivered: ((seq: number, qos: QoS) => void) | undefined;
  /** CONNACK refused: the return code and its meaning. The client backs off and tries again. */
  onRefused: ((returnCode: number, reason: string) => void) | undefined;
  /** The outbox has room again after a publish was refused. */
  onDrain: (() => void) | undefined;

  readonly session: Session;
  readonly outbox: Outbox;
  readonly #host: string | undefined;
  readonly #address: string | undefined;
  readonly #port: number;
  readonly #secure: SecureOptions | undefined;
  readonly #maxPacketSize: number | undefined;
  readonly #logger: Logger;
  readonly #area: string;
  readonly #uptime: Uptime;

  #socket: Socket | undefined;
  #socketUp = false;
  #decoder: Decoder | undefined;
  readonly #encoder = new Encoder();
  #closeWhenFlushed = false;
  // Write queue: encoded packets in order; #queueHead indexes the first unsent, #queueOffset the
  // bytes of it already written.
  #queue: Uint8Array[] = [];
  #queueHead = 0;
  #queueOffset = 0;
  #queuedBytes = 0;
  #scratch = new Uint8Array(SCRATCH);

  #timer: Timer | undefined;
  #timerAt = -1;
  #servicing = false;
  #refusedSinceDrain = false;
  #subscribeCallbacks = new Map<number, SubscribeCallback>();
  #unsubscribeCallbacks = new Map<number, UnsubscribeCallback>();
  readonly #onTimer: () => void;

  /** Bytes written to the socket and read from it since creation. */
  bytesOut = 0;
  bytesIn = 0;

  constructor(options: ClientOptions) {
    if (!options || typeof options !== "object") throw new MqttUsageError("options must be an object");
    if (typeof options.host !== "string" && typeof options.address !== "string") {
      throw new MqttUsageError("host (or address) must be a string");
    }
    this.#host = options.host;
    this.#address = options.address;
    const port = options.port ?? 1883;
    if (!(port > 0 && port < 65536) || port !== Math.floor(port)) {
      throw new MqttUsageError(`port must be 1..65535, got ${String(port)}`);
    }
    this.#port = port;
    this.#secure = options.secure;
    this.#maxPacketSize = options.maxPacketSize;
    this.#logger = options.log ?? SILENT;
    this.#area = options.area ?? "mqtt";
    this.#uptime = options.uptime ?? new Uptime(() => Time.ticks);
    const warn = (message: string): void => this.#log("WARN", message);
    this.outbox =
      options.outbox ??
      new Outbox({
        maxMessages: options.outboxMessages,
        maxBytes: options.outboxBytes,
        storage: options.storage,
        persistAfter: options.persistAfter,
        warn,
      });
    this.session = new Session({
      ...options,
      outbox: this.outbox,
      log: this.#logger,
    });
    this.#onTimer = () => {
      // A one-shot Moddable timer is freed once its callback returns (modules/base/timer/mc/timer.c
      // removes it when repeatInterval is 0, even if rescheduled inside the callback): never reuse it.
      this.#timer = undefined;
      this.#timerAt = -1;
      this.session.handleTimeout(this.#uptime.now());
      this.#service();
    };
    if (this.outbox.length) this.#log("INFO", `outbox restored messages=${this.outbox.length} bytes=${this.outbox.bytes}`);
  }

  // ---------------------------------------------------------------------------------------------
  // API

  /** Starts connecting (and keeps reconnecting until end()). */
  connect(): void {
    this.session.start(this.#uptime.now());
    this.#service();
  }

  /** True while an MQTT connection is up (CONNACK accepted and not yet lost). */
  get connected(): boolean {
    return this.session.connected;
  }

  /**
   * Queues a message (the payload is copied). Returns its sequence number (> 0; onDelivered reports it when done), or 0 when
   * the outbox is full (a warning is logged; onDrain tells when there is room again).
   */
  publish(topic: string, payload: Uint8Array | ArrayBuffer | string, options?: PublishOptions): number {
    // The outbox keeps its own copy: the app may reuse its buffer as soon as publish returns. Copied
    // as an ArrayBuffer slice: a memcpy on the board either way, and XS meters it by the call where
    // Uint8Array.prototype.slice is metered by the byte (~1,000 computrons for a 200-byte post).
    const bytes =
      typeof payload === "string"
        ? utf8Encode(payload)
        : payload instanceof ArrayBuffer
          ? new Uint8Array(payload.slice(0))
          : new Uint8Array((payload.buffer as ArrayBuffer).slice(payload.byteOffset, payload.byteOffset + payload.length));
    const seq = this.session.publish(topic, bytes, options?.qos ?? 0, options?.retain ?? false, this.#uptime.now());
    if (seq === 0) this.#refusedSinceDrain = true;
    this.#service();
    return seq;
  }

  /** Subscribes to one filter, several filters at one QoS, or a list of {topic, qos}. */
  subscribe(
    topics: string | string[] | Subscription[],
    options?: SubscribeOptions,
    callback?: SubscribeCallback,
  ): number {
    const qos = options?.qos ?? 0;
    let subscriptions: Subscription[];
    if (typeof topics === "string") subscriptions = [{ topic: topics, qos }];
    else if (Array.isArray(topics)) {
      subscriptions = [];
      for (const t of topics as (string | Subscription)[]) {
        subscriptions.push(typeof t === "string" ? { topic: t, qos } : t);
      }
    } else throw new MqttUsageError("subscribe: topics must be a string or an array");
    const token = this.session.subscribe(subscriptions, this.#uptime.now());
    if (callback) this.#subscribeCallbacks.set(token, callback);
    this.#service();
    return token;
  }

  unsubscribe(topics: string | string[], callback?: UnsubscribeCallback): number {
    const token = this.session.unsubscribe(typeof topics === "string" ? [topics] : topics, this.#uptime.now());
    if (callback) this.#unsubscribeCallbacks.set(token, callback);
    this.#service();
    return token;
  }

  /**
   * The connection works end to end (e.g. the platform answered a post): the reconnect backoff
   * starts over at the next loss. Without this a connection proves itself by staying up proveAfter.
   */
  connectionProved(): void {
    this.session.connectionProved();
  }

  /** The network (Wi-Fi) is down: close the connection, do not try again until networkUp(). */
  networkDown(): void {
    this.#log("INFO", "network down, waiting");
    this.session.networkDown(this.#uptime.now());
    this.#service();
  }

  /** The network is back: reconnect now. */
  networkUp(): void {
    this.#log("INFO", "network up, reconnecting");
    this.session.networkUp(this.#uptime.now());
    this.#service();
  }

  /** Sends DISCONNECT (when connected), closes, stops reconnecting. Unsent messages stay in the outbox. */
  end(): void {
    this.session.end(this.#uptime.now());
    this.#service();
  }

  /** Bytes waiting in the write queue (backpressure). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  // ---------------------------------------------------------------------------------------------
  // Plumbing

  #log(level: Level, message: string, fields?: Fields): void {
    this.#logger.log(level, this.#area, message, fields);
  }

  /** Moves everything the session produced: packets to the socket, events to the host and app. */
  #service(): void {
    if (this.#servicing) return; // re-entered from an app callback: the outer loop picks it up
    this.#servicing = true;
    try {
      const session = this.session;
      for (;;) {
        // The counts first: most passes have one packet or one event, and no empty polls then.
        if (session.packetsQueued !== 0) {
          do this.#enqueue(session.pollTransmit()!);
          while (session.packetsQueued !== 0);
          this.#flush();
        }
        if (session.eventsQueued === 0) break;
        const event = session.pollEvent()!;
        // A message goes to the app from here, not through #dispatch: one frame less on the deepest
        // path the firmware has (a post reply over TLS, see #open).
        // Deliveries too (one per message sent): no call and no switch for the two events of every report.
        const type = event.type;
        if (type === "message") this.onMessage?.(event.packet.topic, event.packet.payload, event.packet);
        else if (type === "delivered") this.onDelivered?.(event.seq, event.qos);
        else this.#dispatch(event);
      }
      if (this.#refusedSinceDrain && this.outbox.length < this.outbox.maxMessages) {
        this.#refusedSinceDrain = false;
        this.onDrain?.();
      }
    } finally {
      this.#servicing = false;
    }
    this.#arm();
  }

  #arm(): void {
    const deadline = this.session.nextDeadline();
    if (deadline < 0) {
      if (this.#timer !== undefined) {
        Timer.clear(this.#timer);
        this.#timer = undefined;
        this.#timerAt = -1;
      }
      return;
    }
    // Deadlines mostly move later (traffic postpones keepalive); the timer then fires early, finds
    // nothing due and is armed again. Re-arm at once only when the deadline moved earlier.
    if (this.#timer !== undefined && this.#timerAt >= 0 && this.#timerAt <= deadline) return;
    const delay = Math.max(0, deadline - this.#uptime.now());
    if (this.#timer === undefined) this.#timer = Timer.set(this.#onTimer, delay);
    else Timer.schedule(this.#timer, delay);
    this.#timerAt = deadline;
  }

  #enqueue(packet: PacketInput): void {
    let bytes: Uint8Array;
    try {
      bytes = this.#encoder.encode(packet);
    } catch (error) {
      // A packet we cannot encode (e.g. a topic the codec refuses): drop it loudly, do not kill the link.
      this.#log("ERROR", `cannot encode ${packet.cmd}, dropped`, { error: String(error) });
      return;
    }
    if (!this.#socketUp) return;
    if (this.#logger.enabled("DEBUG")) this.#logPacket("sent", packet, bytes.length);
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
  }

  /** Writes as much of the queue as the socket's send space takes; the rest waits for "writable". */
  #flush(): void {
    const socket = this.#socket;
    if (!socket || !this.#socketUp) return;
    const queue = this.#queue;
    while (this.#queueHead < queue.length) {
      let free: number;
      try {
        free = socket.write();
      } catch {
        return;
      }
      if (!(free > 0)) return;
      const head = queue[this.#queueHead];
      const rest = head.length - this.#queueOffset;
      let chunk: Uint8Array;
      if (rest >= free || this.#queueHead + 1 === queue.length) {
        // One packet (or the part of it that fits); a whole one goes as it is, without a view.
        const n = rest < free ? rest : free;
        chunk = n === head.length ? head : head.subarray(this.#queueOffset, this.#queueOffset + n);
        this.#advance(n);
      } else {
        // Several small packets: coalesce into one write.
        const room = free < SCRATCH ? free : SCRATCH;
        const scratch = this.#scratch;
        let filled = 0;
        while (filled < room && this.#queueHead < queue.length) {
          const p = queue[this.#queueHead];
          const avail = p.length - this.#queueOffset;
          const n = avail < room - filled ? avail : room - filled;
          scratch.set(p.subarray(this.#queueOffset, this.#queueOffset + n), filled);
          filled += n;
          this.#advance(n);
        }
        chunk = scratch.subarray(0, filled);
      }
      try {
        socket.write(chunk);
      } catch (error) {
        this.#transportFailed(`write failed: ${String(error)}`);
        return;
      }
      this.bytesOut += chunk.length;
    }
    if (this.#closeWhenFlushed) this.#closeSocket();
  }

  /** Consumes n bytes from the head of the write queue. */
  #advance(n: number): void {
    this.#queueOffset += n;
    this.#queuedBytes -= n;
    const queue = this.#queue;
    if (this.#queueOffset >= queue[this.#queueHead].length) {
      this.#queueOffset = 0;
      this.#queueHead++;
      if (this.#queueHead === queue.length) {
        queue.length = 0;
        this.#queueHead = 0;
      } else if (this.#queueHead >= 64) {
        queue.splice(0, this.#queueHead);
        this.#queueHead = 0;
      }
    }
  }

  /** The events other than "message" and "delivered" (#service hands those over itself). */
  #dispatch(event: SessionEvent): void {
    switch (event.type) {
      case "open":
        this.#open();
        return;
      case "close":
        if (event.graceful && this.#queueHead < this.#queue.length && this.#socketUp) {
          this.#closeWhenFlushed = true;
          this.#flush();
        } else this.#closeSocket();
        if (event.reason !== "end") this.#log("WARN", "connection closed", { reason: event.reason });
        return;
      case "connect":
        this.#log("INFO", "connected", {
          sessionPresent: event.sessionPresent,
          outbox: this.outbox.length,
        });
        this.onConnect?.(event.sessionPresent);
        return;
      case "offline":
        this.#log("INFO", "offline", { reason: event.reason });
        this.onClose?.(event.reason);
        return;
      case "refused":
        this.onRefused?.(event.returnCode, event.reason);
        return;
      case "suback": {
        // Refusals are logged (and retried) by the session.
        const cb = this.#subscribeCallbacks.get(event.token);
        this.#subscribeCallbacks.delete(event.token);
        cb?.(event.granted, event.topics);
        return;
      }
      case "unsuback": {
        const cb = this.#unsubscribeCallbacks.get(event.token);
        this.#unsubscribeCallbacks.delete(event.token);
        cb?.(event.topics);
        return;
      }
      case "end":
        this.#log("INFO", "ended");
        if (this.#timer !== undefined) {
          Timer.clear(this.#timer);
          this.#timer = undefined;
          this.#timerAt = -1;
        }
        return;
    }
  }

  #open(): void {
    this.#closeSocket();
    this.#decoder = new Decoder(this.#maxPacketSize !== undefined ? { maxPacketSize: this.#maxPacketSize } : {});
    this.#log("INFO", "connecting", { host: this.#host ?? this.#address, port: this.#port });
    let socket: Socket;
    try {
      // SecureSocket has Socket's callback, read, write and close (types/securesocket.d.ts), all the
      // client uses; it lacks only get(), which the client never calls.
      const secure = this.#secure;
      if (secure !== undefined) {
        const where = this.#host !== undefined ? { host: this.#host } : { address: this.#address };
        socket = new SecureSocket({ ...where, port: this.#port, noDelay: true, secure }) as unknown as Socket;
      } else socket =
        this.#host !== undefined
          ? new Socket({ host: this.#host, port: this.#port, noDelay: true })
          : new Socket({ address: this.#address, port: this.#port, noDelay: true });
    } catch (error) {
      this.#log("WARN", "socket failed", { error: String(error) });
      this.session.transportDown(this.#uptime.now(), `socket failed: ${String(error)}`);
      return;
    }
    this.#socket = socket;
    // One frame between the socket and #socketEvent: a post reply's path over TLS runs close to the
    // board's 512-slot stack (bench/README.md, "Stack").
    const client = this;
    socket.callback = function (this: Socket, message: SocketMessage, value?: number) {
      client.#socketEvent(socket, message, value);
    };
  }

  #closeSocket(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#socketUp = false;
    this.#closeWhenFlushed = false;
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#queueOffset = 0;
    this.#queuedBytes = 0;
    this.#decoder = undefined;
    if (socket) {
      socket.callback = noop;
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }

  #transportFailed(reason: string): void {
    this.#closeSocket();
    this.session.transportDown(this.#uptime.now(), reason);
  }

  #socketEvent(socket: Socket, message: SocketMessage, value?: number): void {
    if (socket !== this.#socket) return; // a stale socket
    if ((message === -1 || message === -2) && this.#secure !== undefined && !this.#socketUp) {
      // Nothing was sent (CONNECT waits for the handshake). The SDK's SecureSocket reports a refused or
      // reset TCP connection and a failed handshake alike (-2) and keeps no reason; its own trace lines
      // on the console tell a certificate problem.
      this.#log("ERROR", "TLS handshake failed, no CONNECT sent", {
        host: this.#host ?? this.#address,
        port: this.#port,
        cause: message === -1 ? "the server closed the connection" : TLS_ERROR_CAUSE,
      });
      this.#transportFailed("TLS handshake failed");
      this.#service();
      return;
    }
    switch (message) {
      case 1:
        this.#socketUp = true;
        this.session.transportUp(this.#uptime.now());
        break;
      case 2:
        this.#readable(socket, value ?? 0);
        break;
      case 3:
        this.#flush();
        // Only the write queue moved: the session has nothing new to poll and its deadline is where
        // it was, unless the write failed (the socket is then gone). lwIP sends this after every
        // acknowledged write, so skipping the service pass saves one per packet sent.
        if (this.#socket === socket) return;
        break;
      case -1:
        this.#log("WARN", "broker closed the connection");
        this.#transportFailed("closed by the broker");
        break;
      case -2:
        // The socket gives no reason; when it failed tells the likely causes apart (README, Troubleshooting).
        this.#log("WARN", "socket error", {
          cause: this.#socketUp ? "connection reset or dropped" : "DNS failure or connection refused",
        });
        this.#transportFailed("socket error");
        break;
    }
    this.#service();
  }

  #readable(socket: Socket, available: number): void {
    const decoder = this.#decoder;
    if (!decoder || available <= 0) return;
    const buffer = socket.read(ArrayBuffer);
    this.bytesIn += buffer.byteLength;
    let packets;
    const now = this.#uptime.now();
    try {
      packets = decoder.push(new Uint8Array(buffer));
    } catch (error) {
      const reason = error instanceof ProtocolError ? error.message : String(error);
      // Valid packets ahead of the bad one in this read still count: their acks release outbox
      // entries, their messages reach the app.
      if (error instanceof ProtocolError) this.#handle(socket, decoder.packetsBeforeError, now);
      this.#log("ERROR", "malformed data from the broker, closing", { reason });
      if (socket === this.#socket) this.session.protocolError(now, reason);
      return;
    }
    this.#handle(socket, packets, now);
  }

  #handle(socket: Socket, packets: readonly Packet[], now: number): void {
    const session = this.session;
    for (let i = 0; i < packets.length; i++) {
      if (socket !== this.#socket) return; // a packet closed the connection
      const packet = packets[i];
      if (this.#logger.enabled("DEBUG")) this.#logPacket("received", packet, encodedLength(packet));
      session.handlePacket(packet, now);
    }
  }

  /** One DEBUG line per packet: type, identifier, topic, size; never a password or payload bytes. */
  #logPacket(direction: "sent" | "received", packet: PacketInput, size: number): void {
    let id: number | undefined;
    let topic: string | undefined;
    let qos: number | undefined;
    switch (packet.cmd) {
      case "publish":
        topic = packet.topic;
        qos = packet.qos ?? 0;
        id = packet.messageId;
        break;
      case "puback":
      case "pubrec":
      case "pubrel":
      case "pubcomp":
      case "subscribe":
      case "suback":
      case "unsubscribe":
      case "unsuback":
        id = packet.messageId;
        break;
      default:
        break;
    }
    this.#log("DEBUG", `${direction} ${packet.cmd.toUpperCase()}`, { id, topic, qos, size });
  }
}

function noop(): void {}
