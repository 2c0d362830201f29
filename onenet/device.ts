// The OneNET device profile on top of an MQTT client: login options (token), subscriptions after
// CONNACK, paced uplink, property post with reply correlation by id, property set/get handling, event
// post, and the platform's guards (docs/onenet.md).
//
// Sans-I/O like mqtt/session: it never touches a socket, timer or clock. The caller passes `now`
// (monotonic ms), calls service(now) when the returned deadline comes, and gives it a link that hands
// messages to the MQTT client. Delivery of a QoS 1 message is the client's job once publish() accepted
// it (its outbox resends the very same bytes); the profile encodes each message once, so a resend at
// any level keeps the message's id and its original time. While connected, uplink is paced to one
// message per pacingMs (platform: 1 message/s); while offline, QoS 1 posts go straight into the
// client's bounded, persisted outbox so that a reboot loses nothing already reported.

import type { OneNetConfig } from "./config";
import { LIMITS } from "./config";
import { OneNetError, PayloadError } from "./errors";
import { checkValue, compileModel, DEFAULT_MODEL, specOf } from "./model";
import type { CompiledModel, CompiledSpec, ThingModel } from "./model";
import {
  entryEnd,
  entryText,
  eventPost,
  historyPost,
  IdCounter,
  parseGet,
  parseReplyInto,
  parseSet,
  POST_HEAD,
  isIdentifier,
  propertyPost,
  reply,
  replyMeaning,
} from "./payload";
import type { HistorySeries, Reply } from "./payload";
import { token, tokenExpiry } from "./token";
import { DOWN_EVENT_REPLY, DOWN_GET, DOWN_HISTORY_REPLY, DOWN_NONE, DOWN_OTA_INFORM, DOWN_POST_REPLY, DOWN_SET, Topics } from "./topics";
import { utf8Encode } from "../lib/utf8";
import type { Level, Logger } from "../lib/log";

/** What the profile needs from the MQTT client. */
export interface OneNetLink {
  /** Hands a message to the client. May throw (client queue full, …): the profile keeps it and retries. */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean): void;
  /** One SUBSCRIBE for all `topics`. */
  subscribe(topics: readonly string[], qos: 0 | 1): void;
  /** True when the client restores its subscriptions after a reconnect (mqtt/session does): subscribe once. */
  readonly restoresSubscriptions?: boolean;
}


export interface ReplyInfo extends Reply {
  readonly kind: "property" | "event" | "history";
  readonly meaning: string;
}

export interface OneNetDeviceOptions {
  readonly config: OneNetConfig;
  readonly link: OneNetLink;
  /** Checks reports and sets locally (302/309 before they happen). Default: the default model; null: no checks. */
  readonly model?: ThingModel | null;
  /**
   * Applies one writable property set by the cloud (already type-checked against the model).
   * Return true or nothing when applied, false or a reason string when refused.
   */
  readonly onSet?: (identifier: string, value: unknown) => boolean | string | void;
  /**
   * Asked for every property of a set before any is applied: true when the app can apply it, else
   * the reason. A set is all or nothing: one refusal and nothing is applied (the reply says 100).
   */
  readonly canSet?: (identifier: string, value: unknown) => true | string;
  /** Current value of a property for a property get; undefined falls back to the last reported value. */
  readonly onGet?: (identifier: string) => unknown;
  /** Every post reply (property, event and history), after the profile logged it. */
  readonly onReply?: (reply: ReplyInfo) => void;
  /** A post whose reply did not come within replyTimeoutMs (or was pushed out of the awaited list). */
  readonly onMissing?: (id: string) => void;
  /** The boot's number (strictly increasing across reboots): message ids stay unique across reboots. */
  readonly boot?: number;
  /**
   * Wall-clock time in ms when known, else undefined (then posts carry no `time`, and the login token
   * takes the config's far-future `et` instead of now + tokenTtl).
   */
  readonly epochMs?: () => number | undefined;
  /** The app's logger; lines use area "onenet" (no secrets are ever passed). Default: silent. */
  readonly log?: Logger;
  /** Messages waiting for their uplink slot; beyond this report() refuses (throws). Default 32. */
  readonly queueLimit?: number;
  /** Minimum gap between two uplink messages, ms (platform: 1 message/s). Default 1000. */
  readonly pacingMs?: number;
  /** How long to wait for a post reply while connected before logging it missing. Default 30000. */
  readonly replyTimeoutMs?: number;
  /** Subscribe to `thing/#` (as the official SDK does) instead of the four exact topics. */
  readonly subscribeAll?: boolean;
  /**
   * Largest message (topic + payload bytes) the link can ever take; a bigger one is dropped with an
   * error instead of blocking the uplink queue forever. Default 4096 (the app's MQTT outbox holds 8 KB).
   */
  readonly maxMessageBytes?: number;
  /** Replies (set/get answers) waiting at most; a flood beyond it drops the oldest. Default 8. */
  readonly replyLimit?: number;
  /** An `ota/inform` notice (onenet/ota.ts); its payload is only valid during the call. */
  readonly onOtaInform?: (payload: Uint8Array) => void;
}

/** A reply's `msg` at most this long: it echoes identifiers from the cloud, which must not grow it without bound. */
const REPLY_MSG_MAX = 120;

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly username: string;
  /** The token, UTF-8, made for a login now. Secret: never log it. */
  readonly password: Uint8Array;
  readonly clean: true;
  readonly keepalive: number;
}

const KIND_POST = 0;
const KIND_EVENT = 1;
const KIND_REPLY = 2;
const KIND_RAW = 3;
const KIND_HISTORY = 4;

/** Posts awaited at most; past it the oldest counts as a missing reply. */
const AWAITED_MAX = 64;

/** A message waiting for its uplink slot; a post once sent waits for its reply as the same object. */
interface Outgoing {
  readonly kind: number;
  readonly topic: string;
  /** Dropped (NO_BYTES) once the client took the message: an awaited post keeps only its id. */
  payload: Uint8Array;
  readonly qos: 0 | 1;
  /** Message id for posts and events; "" otherwise. */
  readonly id: string;
  /** While awaited: when its reply is overdue. */
  deadline: number;
}

const NO_BYTES = new Uint8Array(0);

/** Refuses what gets a device disconnected: QoS 2, retain, a topic outside its own space. */
export function checkPublish(topics: Topics, topic: string, qos: number, retain: boolean): void {
  if (qos !== 0 && qos !== 1) throw new OneNetError(`onenet: QoS ${qos} refused: the platform accepts QoS 0 and 1 only and disconnects on QoS 2`);
  if (retain) throw new OneNetError("onenet: retain refused: the platform disconnects a device that publishes retained messages");
  if (!topics.owns(topic)) throw new OneNetError(`onenet: topic ${topic} refused: a device may publish only under ${topics.prefix}`);
}

export interface MqttConnectLike {
  readonly clientId: string;
  readonly username?: string;
  readonly clean: boolean;
  readonly keepalive: number;
  readonly will?: unknown;
}

/** Refuses CONNECT options the platform rejects (will, persistent session, keepalive, identity). */
export function checkConnect(config: OneNetConfig, options: MqttConnectLike): void {
  if (options.will !== undefined && options.will !== null) {
    throw new OneNetError("onenet: will refused: the platform rejects CONNECT with a will message");
  }
  if (!options.clean) throw new OneNetError("onenet: clean session 0 refused: the platform requires clean session 1");
  if (!(options.keepalive >= LIMITS.keepalive.min && options.keepalive <= LIMITS.keepalive.max)) {
    throw new OneNetError(`onenet: keepalive ${options.keepalive} refused: the platform accepts ${LIMITS.keepalive.min}..${LIMITS.keepalive.max} s`);
  }
  if (options.clientId !== config.device) throw new OneNetError("onenet: clientId must be the device name");
  if (options.username !== config.product) throw new OneNetError("onenet: username must be the product id");
}

function kindName(kind: number): "property" | "event" | "history" {
  return kind === KIND_EVENT ? "event" : kind === KIND_HISTORY ? "history" : "property";
}

function defaultEpoch(): number | undefined {
  const t = Date.now();
  return t >= 1600000000000 ? t : undefined; // before Sep 2020: the clock was never set
}

export class OneNetDevice {
  readonly config: OneNetConfig;
  readonly topics: Topics;
  readonly #link: OneNetLink;
  readonly #model: ThingModel | null;
  readonly #options: OneNetDeviceOptions;
  readonly #ids: IdCounter;
  readonly #replies: Outgoing[] = [];
  readonly #posts: Outgoing[] = [];
  /** Posts sent and not yet answered, in send order (so also in deadline order). Bounded. */
  readonly #awaiting: Outgoing[] = [];
  /** The model ready for the report path, holding each property's last value; null: no model, or one the general path takes. */
  readonly #compiled: CompiledModel | null;
  /** report()'s properties while it is checked (one per identifier of the model at most). */
  readonly #touched: CompiledSpec[] = [];
  /** The post reply being handled (its fields are copied into what onReply gets). */
  readonly #reply = { id: "", code: 0, msg: "" };
  /**
   * Last value of each identifier reported or set outside the compiled model (a Map: identifiers from
   * the cloud are data, never keys of an object).
   */
  readonly #values = new Map<string, unknown>();
  readonly #queueLimit: number;
  readonly #replyLimit: number;
  readonly #maxMessage: number;
  readonly #pacing: number;
  readonly #replyTimeout: number;
  #connected = false;
  #nextSend = -Infinity;
  #now = 0;
  #subscribed = false;
  /** Expiry (Unix s) of the last token password() made; 0 before the first. */
  tokenEt = 0;
  /** True when that token expires tokenTtl after it was made (the clock was known), false for the far-future `et`. */
  tokenShortLived = false;

  /** Counters for tests and the console. */
  readonly stats = {
    sent: 0, replies: 0, refusedByPlatform: 0, missingReplies: 0, sets: 0, gets: 0,
    /** Messages that could never be sent (larger than the link takes), dropped. */
    tooLarge: 0,
    /** Replies dropped because newer requests filled the reply queue. */
    repliesDropped: 0,
  };

  constructor(options: OneNetDeviceOptions) {
    this.#options = options;
    this.#ids = new IdCounter(options.boot);
    this.config = options.config;
    this.#link = options.link;
    this.#model = options.model === undefined ? DEFAULT_MODEL : options.model;
    this.#compiled = this.#model ? compileModel(this.#model) : null;
    this.topics = new Topics(options.config.product, options.config.device);
    this.#queueLimit = options.queueLimit ?? 32;
    this.#replyLimit = Math.max(1, options.replyLimit ?? 8);
    this.#maxMessage = options.maxMessageBytes ?? 4096;
    this.#pacing = options.pacingMs ?? 1000;
    this.#replyTimeout = options.replyTimeoutMs ?? 30000;
  }

  /** The CONNECT options, with a token for a login now. Checked against the platform's rules. */
  connectOptions(): ConnectOptions {
    const c = this.config;
    const options: ConnectOptions = {
      host: c.host,
      port: c.port,
      clientId: c.device,
      username: c.product,
      password: this.#token(tokenExpiry(this.#epoch(), c.tokenTtl, c.et)),
      clean: true,
      keepalive: c.keepalive,
    };
    checkConnect(c, options);
    return options;
  }

  /**
   * The MQTT password for the login about to be made (the client asks at every connect): a fresh token
   * expiring tokenTtl from now while the clock is known, else one with the config's far-future `et`.
   * Says so in the log when it switches between the two.
   */
  password(): Uint8Array {
    const c = this.config;
    const epoch = this.#epoch();
    const shortLived = epoch !== undefined;
    const et = tokenExpiry(epoch, c.tokenTtl, c.et);
    if (this.tokenEt === 0 || shortLived !== this.tokenShortLived) {
      if (shortLived) this.#log("INFO", `login tokens expire ${c.tokenTtl} s after each connect (et=${et})`);
      else this.#log("WARN", `clock unknown: login token with the far-future et=${et} (config et) until the clock is set`);
    }
    this.tokenEt = et;
    this.tokenShortLived = shortLived;
    return this.#token(et);
  }

  #token(et: number): Uint8Array {
    const c = this.config;
    return utf8Encode(token({ product: c.product, device: c.device, key: c.key, et, method: c.method }));
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Messages waiting for their uplink slot. */
  get queued(): number {
    return this.#replies.length + this.#posts.length;
  }

  /** Post ids sent and not yet answered. */
  get awaitingReplies(): number {
    return this.#awaiting.length;
  }

  /**
   * Call on CONNACK 0: subscribes to what the device needs, then uplink may flow. `resent`: messages
   * the MQTT client sends again by itself now (its outbox); they take their uplink slots first.
   */
  onConnected(now: number, resent = 0): void {
    this.#now = now;
    this.#connected = true;
    if (resent > 0) this.#nextSend = now + resent * this.#pacing;
    const t = this.topics;
    if (!this.#subscribed || !this.#link.restoresSubscriptions) {
      this.#link.subscribe(this.#options.subscribeAll ? [t.thingAll] : t.subscriptions(), 0);
      this.#subscribed = true;
    }
    const awaiting = this.#awaiting;
    for (let i = 0; i < awaiting.length; i++) awaiting[i].deadline = now + this.#replyTimeout;
    this.#log("INFO", `connected, subscribed product=${this.config.product} device=${this.config.device}`);
  }

  /** Call when the connection is lost; queued messages wait for the next connection. */
  onDisconnected(now: number): void {
    this.#now = now;
    this.#connected = false;
  }

  /**
   * Reports properties: `{temp: 23.6, humi: 41}`. Returns the message id. Values are checked against
   * the model; the message waits for its uplink slot (service()). Throws OneNetError when refused.
   */
  report(params: { readonly [identifier: string]: unknown }, now: number, reading?: { readonly time: number | undefined; readonly qos: 0 | 1 }): string {
    this.#now = now;
    this.#checkRoom();
    const compiled = this.#compiled;
    // A reading from the log carries its own time (undefined: not known, the platform stamps it).
    const time = reading ? reading.time : this.#epoch();
    let id: string;
    let payload: Uint8Array;
    if (compiled !== null) {
      // One pass checks each value, writes its entry (payload.ts propertyPost's format) and keeps it
      // as the last known one; a refusal puts the earlier ones back (#restore).
      const end = entryEnd(time);
      const touched = this.#touched;
      let n = 0;
      let body = "";
      for (const identifier in params) {
        const value = params[identifier];
        if (value === undefined) continue;
        const c = compiled[identifier];
        if (c === undefined) throw this.#restore(n, `${identifier} is not in the thing model (the platform would answer 309)`);
        if (typeof value === "number" && value >= c.min && value <= c.max && (!c.integer || value % 1 === 0)) {
          body += (n === 0 ? '"' : ',"') + identifier + '":{"value":' + value + end;
        } else {
          const problem = checkValue(c.spec, value);
          if (problem) throw this.#restore(n, `${identifier} ${problem} (the platform would answer 302)`);
          body += (n === 0 ? '"' : ',"') + identifier + entryText(value, time, end);
        }
        c.previous = c.last;
        c.last = value;
        touched[n++] = c;
      }
      id = this.#ids.next();
      if (n === 0) throw new OneNetError("onenet: property post with no values");
      payload = new Uint8Array(ArrayBuffer.fromString('{"id":"' + id + POST_HEAD + body + "}}"));
    } else {
      const model = this.#model;
      if (model) {
        for (const identifier in params) {
          const value = params[identifier];
          if (value === undefined) continue;
          const spec = specOf(model, identifier);
          if (!spec) throw new OneNetError(`onenet: report: ${identifier} is not in the thing model (the platform would answer 309)`);
          const problem = checkValue(spec, value);
          if (problem) throw new OneNetError(`onenet: report: ${identifier} ${problem} (the platform would answer 302)`);
        }
      }
      id = this.#ids.next();
      payload = propertyPost(id, params, time);
      for (const identifier in params) if (params[identifier] !== undefined) this.#values.set(identifier, params[identifier]);
    }
    this.#enqueue(this.#posts, { kind: KIND_POST, topic: this.topics.propertyPost, payload, qos: reading ? reading.qos : 1, id, deadline: 0 });
    return id;
  }

  /**
   * Posts back-filled readings (`thing/history/post`), each value with its own time; QoS 0: the
   * readings log keeps them until the reply, and a lost batch is sent again from there. Returns the id.
   */
  postHistory(series: readonly HistorySeries[], now: number, scratch: Uint8Array): string {
    this.#now = now;
    this.#checkRoom();
    const id = this.#ids.next();
    const payload = historyPost(id, series, scratch);
    this.#enqueue(this.#posts, { kind: KIND_HISTORY, topic: this.topics.historyPost, payload, qos: 0, id, deadline: 0 });
    return id;
  }

  /** Posts an event: `postEvent("alarm", {code: 1, msg: "sensor lost"})`. Returns the message id. */
  postEvent(identifier: string, value: { readonly [key: string]: unknown }, now: number): string {
    this.#now = now;
    this.#checkRoom();
    const id = this.#ids.next();
    const payload = eventPost(id, identifier, value, this.#epoch());
    this.#enqueue(this.#posts, { kind: KIND_EVENT, topic: this.topics.eventPost, payload, qos: 1, id, deadline: 0 });
    return id;
  }

  /**
   * Publishes on another topic of the device's own space, through the same guards and pacing. `reply`:
   * an answer the platform waits for (ota/inform_reply), sent before posts like set/get replies.
   */
  publish(topic: string, payload: Uint8Array, qos: number, retain: boolean, now: number, reply = false): void {
    this.#now = now;
    checkPublish(this.topics, topic, qos, retain);
    this.#checkRoom();
    this.#enqueue(reply ? this.#replies : this.#posts, { kind: KIND_RAW, topic, payload, qos: qos as 0 | 1, id: "", deadline: 0 });
  }

  /** Handles a message from the broker. Returns true if it was a OneNET message for this device. */
  onMessage(topic: string, payload: Uint8Array, now: number): boolean {
    this.#now = now;
    // a post reply, the message of every report, without the call (on XS it costs more than the compare)
    const topics = this.topics;
    const kind = topic === topics.propertyPostReply ? DOWN_POST_REPLY : topics.classify(topic);
    if (this.#options.log?.enabled("DEBUG")) {
      this.#options.log.log("DEBUG", "onenet", "received", { topic: topic.slice(this.topics.prefix.length), bytes: payload.length, known: kind !== DOWN_NONE });
    }
    switch (kind) {
      case DOWN_POST_REPLY:
        this.#onReply(payload, KIND_POST, "property");
        return true;
      case DOWN_EVENT_REPLY:
        this.#onReply(payload, KIND_EVENT, "event");
        return true;
      case DOWN_HISTORY_REPLY:
        this.#onReply(payload, KIND_HISTORY, "history");
        return true;
      case DOWN_SET:
        this.#onSet(payload);
        return true;
      case DOWN_GET:
        this.#onGet(payload);
        return true;
      case DOWN_OTA_INFORM:
        this.#options.onOtaInform?.(payload);
        return true;
      default:
        return false;
    }
  }

  /**
   * Sends what is due (at most one message per pacing gap) and expires missing replies. Returns the
   * time (ms, same clock as `now`) at which it wants to be called again, or Infinity.
   */
  service(now: number): number {
    this.#now = now;
    if (!this.#connected) {
      this.#handOver(now);
      return Infinity;
    }
    let next = Infinity;
    const awaiting = this.#awaiting;
    while (awaiting.length > 0 && now >= awaiting[0].deadline) {
      const a = awaiting.shift()!;
      this.stats.missingReplies++;
      this.#log("WARN", `no reply to ${kindName(a.kind)} post id=${a.id} within ${this.#replyTimeout} ms`);
      this.#options.onMissing?.(a.id);
    }
    if (awaiting.length > 0) next = awaiting[0].deadline;
    // The queues' lengths read here, not through the `queued` getter: on XS a getter call costs
    // several times the sum, and this runs twice a report.
    const replies = this.#replies;
    const posts = this.#posts;
    if ((replies.length > 0 || posts.length > 0) && now >= this.#nextSend) {
      const queue = replies.length > 0 ? replies : posts;
      // Out of the queue and the pacing mark moved before the hand-over: the MQTT client's publish
      // runs its own loop, which can call back here (onDrain); a nested pass then found this message
      // still first and due, sent it twice, and the outer pass dropped the next one unsent.
      const m = queue.shift()!;
      this.#nextSend = now + this.#pacing;
      if (this.#give(m, now + this.#replyTimeout)) {
        if (now + this.#replyTimeout < next && m.id) next = now + this.#replyTimeout;
      } else queue.unshift(m);
    }
    if ((replies.length > 0 || posts.length > 0) && this.#nextSend < next) next = this.#nextSend;
    return next;
  }

  /** Hands one message to the client; false (kept, retried later) when the client refuses it. */
  #give(m: Outgoing, replyDeadline: number): boolean {
    try {
      this.#link.publish(m.topic, m.payload, m.qos, false);
    } catch (e) {
      this.#log(this.#connected ? "WARN" : "DEBUG", `publish deferred id=${m.id || "-"}: ${(e as Error).message}`);
      return false;
    }
    this.stats.sent++;
    if (this.#options.log?.enabled("DEBUG")) {
      this.#options.log.log("DEBUG", "onenet", "sent", { topic: m.topic.slice(this.topics.prefix.length), id: m.id || undefined, bytes: m.payload.length, qos: m.qos });
    }
    if (m.kind === KIND_POST || m.kind === KIND_EVENT || m.kind === KIND_HISTORY) {
      // the message itself waits for the reply (no object per post), without its bytes, which the client holds now
      m.payload = NO_BYTES;
      m.deadline = replyDeadline;
      this.#awaiting.push(m);
      if (this.#awaiting.length > AWAITED_MAX) this.#trimAwaiting();
    }
    return true;
  }

  /**
   * Offline: QoS 1 posts go straight into the MQTT client's outbox (bounded, persisted through a
   * reboot), which sends them after the next CONNACK; pacing applies to traffic while connected.
   * What the client refuses (outbox full) stays here, in order. Replies wait for the connection.
   */
  #handOver(now: number): void {
    const posts = this.#posts;
    while (posts.length > 0 && posts[0].qos === 1) {
      if (!this.#give(posts[0], Infinity)) break;
      posts.shift();
    }
    void now;
  }

  #checkRoom(): void {
    if (this.#replies.length + this.#posts.length >= this.#queueLimit) {
      throw new OneNetError(`onenet: uplink queue full (${this.#queueLimit} waiting at 1 message/s); message refused`);
    }
  }

  #trimAwaiting(): void {
    // bounded: the oldest unanswered id goes first
    while (this.#awaiting.length > AWAITED_MAX) {
      const a = this.#awaiting.shift()!;
      this.stats.missingReplies++;
      this.#options.onMissing?.(a.id);
    }
  }

  /** A refused report: the `n` values it already kept go back to what they were; returns the error to throw. */
  #restore(n: number, why: string): OneNetError {
    const touched = this.#touched;
    for (let i = 0; i < n; i++) touched[i].last = touched[i].previous;
    return new OneNetError(`onenet: report: ${why}`);
  }

  #remember(identifier: string, value: unknown): void {
    const c = this.#compiled?.[identifier];
    if (c !== undefined) c.last = value;
    else this.#values.set(identifier, value);
  }

  #recall(identifier: string): unknown {
    const c = this.#compiled?.[identifier];
    return c !== undefined ? c.last : this.#values.get(identifier);
  }

  #epoch(): number | undefined {
    return (this.#options.epochMs ?? defaultEpoch)();
  }

  #log(level: Level, message: string): void {
    this.#options.log?.log(level, "onenet", message);
  }

  #queueReply(topic: string, id: string, code: number, msg: string, data?: { readonly [identifier: string]: unknown }): void {
    // Replies are owed to the cloud and go before posts; a flood of requests keeps only the newest
    // (each answered request costs heap until its uplink slot, and the platform paces at 1/s).
    const replies = this.#replies;
    if (replies.length >= this.#replyLimit) {
      replies.shift();
      if (this.stats.repliesDropped++ % 100 === 0) {
        this.#log("WARN", `reply queue full (${this.#replyLimit}): oldest replies dropped, ${this.stats.repliesDropped} so far`);
      }
    }
    const text = msg.length > REPLY_MSG_MAX ? msg.slice(0, REPLY_MSG_MAX - 1) + "…" : msg;
    this.#enqueue(replies, { kind: KIND_REPLY, topic, payload: reply(id, code, text, data), qos: 0, id: "", deadline: 0 });
  }

  /** Queues `m`, unless it can never be sent: then it is dropped with an error, never left to block the queue. */
  #enqueue(queue: Outgoing[], m: Outgoing): void {
    const size = m.topic.length + m.payload.length;
    if (size > this.#maxMessage) {
      this.stats.tooLarge++;
      this.#log("ERROR", `message of ${size} bytes dropped: the link takes at most ${this.#maxMessage} (${this.stats.tooLarge} so far)`);
      return;
    }
    queue.push(m);
  }

  #onReply(payload: Uint8Array, kind: number, what: "property" | "event" | "history"): void {
    let r: Reply;
    try {
      r = parseReplyInto(payload, this.#reply);
    } catch (e) {
      this.#log("WARN", `unreadable post reply: ${(e as Error).message}`);
      return;
    }
    // the oldest awaiting post with this id (without a boot number ids restart at "1" after a reboot, so the oldest is the likelier match)
    const awaiting = this.#awaiting;
    let known = false;
    for (let i = 0; i < awaiting.length; i++) {
      if (awaiting[i].id === r.id && awaiting[i].kind === kind) {
        awaiting.splice(i, 1);
        known = true;
        break;
      }
    }
    this.stats.replies++;
    const meaning = replyMeaning(r.code);
    if (r.code !== 200) {
      this.stats.refusedByPlatform++;
      this.#log("WARN", `${what} post id=${r.id} refused code=${r.code} (${meaning}) msg=${JSON.stringify(r.msg)}`);
    } else if (!known) {
      this.#log("DEBUG", `${what} post reply for id=${r.id} not awaited`);
    }
    this.#options.onReply?.({ id: r.id, code: r.code, msg: r.msg, kind: what, meaning });
  }

  /** A request that is not the platform's OneJSON: logged, and answered 100 when its id could be read. */
  #badRequest(kind: string, topic: string, e: unknown): void {
    const why = (e as Error).message;
    this.#log("WARN", `bad property ${kind}: ${why}`);
    const id = e instanceof PayloadError ? e.id : undefined;
    if (id !== undefined) this.#queueReply(topic, id, 100, `bad request: ${why}`);
  }

  #onSet(payload: Uint8Array): void {
    this.stats.sets++;
    const topic = this.topics.propertySetReply;
    let request;
    try {
      request = parseSet(payload);
    } catch (e) {
      this.#badRequest("set", topic, e);
      return;
    }
    const refused: string[] = [];
    const model = this.#model;
    for (const identifier in request.params) {
      const value = request.params[identifier];
      const spec = model ? specOf(model, identifier) : undefined;
      if (model && !spec) refused.push(`${identifier} (unknown identifier)`);
      else if (spec && !spec.writable) refused.push(`${identifier} (read-only)`);
      else if (spec) {
        const problem = checkValue(spec, value);
        if (problem) refused.push(`${identifier} (${problem})`);
      }
    }
    const canSet = this.#options.canSet;
    if (refused.length === 0 && canSet) {
      // the app's own conditions (hardware present, …), before anything changes
      for (const identifier in request.params) {
        let verdict: true | string;
        try {
          verdict = canSet(identifier, request.params[identifier]);
        } catch (e) {
          verdict = (e as Error).message;
        }
        if (verdict !== true) refused.push(`${identifier} (${verdict})`);
      }
    }
    if (refused.length === 0) {
      // every value is acceptable: hand them to the app, which may still refuse one
      for (const identifier in request.params) {
        const value = request.params[identifier];
        let verdict: boolean | string | void = true;
        try {
          verdict = this.#options.onSet ? this.#options.onSet(identifier, value) : false;
        } catch (e) {
          verdict = (e as Error).message;
        }
        if (verdict === false) refused.push(`${identifier} (not applied)`);
        else if (typeof verdict === "string") refused.push(`${identifier} (${verdict})`);
        else this.#remember(identifier, value);
      }
    }
    if (refused.length === 0) {
      this.#log("INFO", `property set id=${request.id} applied`);
      this.#queueReply(topic, request.id, 200, "success");
    } else {
      const msg = `refused: ${refused.join(", ")}`;
      this.#log("WARN", `property set id=${request.id} ${msg}`);
      this.#queueReply(topic, request.id, 100, msg);
    }
  }

  #onGet(payload: Uint8Array): void {
    this.stats.gets++;
    const topic = this.topics.propertyGetReply;
    let request;
    try {
      request = parseGet(payload);
    } catch (e) {
      this.#badRequest("get", topic, e);
      return;
    }
    const data: { [identifier: string]: unknown } = {};
    const missing: string[] = [];
    for (const identifier of request.params) {
      if (!isIdentifier(identifier)) {
        missing.push(identifier.length > 64 ? identifier.slice(0, 64) + "…" : identifier);
        continue;
      }
      let value = this.#options.onGet ? this.#options.onGet(identifier) : undefined;
      if (value === undefined) value = this.#recall(identifier);
      if (value === undefined) missing.push(identifier);
      else data[identifier] = value;
    }
    if (missing.length === 0) this.#queueReply(topic, request.id, 200, "success", data);
    else this.#queueReply(topic, request.id, 100, `no value for: ${missing.join(", ")}`, data);
  }
}
