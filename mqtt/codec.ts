// MQTT 3.1.1 packets <-> bytes. Sans-I/O: pure functions over Uint8Array, the same on the board, in
// the simulator and on the host. Strict both ways: `encode` refuses to produce anything that
// `Decoder.push` would refuse, and every refusal is a ProtocolError naming the rule it breaks.
//
// Decoded PUBLISH payloads, CONNECT will payloads and passwords are views into the bytes given to
// `push` (no copy in the common case of whole packets per chunk): do not reuse a pushed buffer.

import type {
  ConnackReturnCode,
  ConnectPacket,
  GrantedQoS,
  Packet,
  PacketInput,
  QoS,
  Subscription,
  Will,
} from "./packets";
import { utf8Decode, utf8Length, utf8Write } from "../lib/utf8";

export type * from "./packets";

const NO_PACKETS: readonly Packet[] = Object.freeze([]);
// The packets of the push under way. A ProtocolError raised inside it takes them (see below); a
// flag rather than try/catch around push, because on XS entering a try block costs computrons.
let decodedBeforeError: readonly Packet[] = NO_PACKETS;

export class ProtocolError extends Error {
  /**
   * The complete, valid packets that preceded the error in the push that failed (empty for encode
   * errors), so a caller can act on them (an ack, a message) before it closes the connection.
   */
  readonly packets: readonly Packet[];

  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
    this.packets = decodedBeforeError;
    decodedBeforeError = NO_PACKETS;
  }
}

/** The largest remaining length four bytes can express [MQTT-2.2.3]. */
export const MAX_REMAINING_LENGTH = 268_435_455;
/** Default cap on a whole packet (fixed header included): a few downlink messages fit an ESP32 heap. */
export const DEFAULT_MAX_PACKET_SIZE = 16_384;

const CONNECT = 1;
const CONNACK = 2;
const PUBLISH = 3;
const PUBACK = 4;
const PUBREC = 5;
const PUBREL = 6;
const PUBCOMP = 7;
const SUBSCRIBE = 8;
const SUBACK = 9;
const UNSUBSCRIBE = 10;
const UNSUBACK = 11;
const PINGREQ = 12;
const PINGRESP = 13;
const DISCONNECT = 14;

const PROTOCOL_NAME = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54]; // length-prefixed "MQTT"

// ---------------------------------------------------------------------------------------------
// Validation shared by both directions

function checkMessageId(id: unknown, what: string): number {
  // One mask proves a whole number in 0..65535 (strings, NaN and fractions all fail it).
  if (((id as number) & 0xffff) !== id || id === 0) {
    throw new ProtocolError(`${what}: packet identifier must be 1..65535, got ${String(id)} [MQTT-2.3.1-1]`);
  }
  return id as number;
}

function checkQos(qos: unknown, what: string): QoS {
  if (qos === 0 || qos === 1 || qos === 2) return qos;
  throw new ProtocolError(`${what}: QoS must be 0, 1 or 2, got ${String(qos)} [MQTT-3.3.1-4]`);
}

/** Topic names carry no wildcards and are never empty [MQTT-3.3.2-2, MQTT-4.7.3-1]. */
function checkTopicName(topic: string, what: string): void {
  if (topic.length === 0) throw new ProtocolError(`${what}: topic name is empty [MQTT-4.7.3-1]`);
  if (topic.indexOf("+") !== -1 || topic.indexOf("#") !== -1) {
    throw new ProtocolError(`${what}: wildcard in topic name ${JSON.stringify(topic)} [MQTT-3.3.2-2]`);
  }
}

/** Topic filters: non-empty; '#' only as the whole last level, '+' only as a whole level [MQTT-4.7.1-2/3]. */
function checkTopicFilter(filter: string, what: string): void {
  if (filter.length === 0) throw new ProtocolError(`${what}: topic filter is empty [MQTT-4.7.3-1]`);
  for (let i = 0, n = filter.length; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0x23 /* # */) {
      if (i !== n - 1 || (i > 0 && filter.charCodeAt(i - 1) !== 0x2f)) {
        throw new ProtocolError(`${what}: '#' must be the last level of ${JSON.stringify(filter)} [MQTT-4.7.1-2]`);
      }
    } else if (c === 0x2b /* + */) {
      if ((i > 0 && filter.charCodeAt(i - 1) !== 0x2f) || (i < n - 1 && filter.charCodeAt(i + 1) !== 0x2f)) {
        throw new ProtocolError(`${what}: '+' must fill a whole level of ${JSON.stringify(filter)} [MQTT-4.7.1-3]`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** UTF-8 length of an MQTT string, refusing what [MQTT-1.5.3-1/2] forbids and what does not fit. */
function stringLength(s: unknown, what: string): number {
  if (typeof s !== "string") throw new ProtocolError(`${what}: expected a string, got ${typeof s}`);
  const length = utf8Length(s);
  if (length < 0) throw new ProtocolError(`${what}: lone surrogate, not well-formed UTF-8 [MQTT-1.5.3-1]`);
  if (s.indexOf("\u0000") !== -1) throw new ProtocolError(`${what}: contains U+0000 [MQTT-1.5.3-2]`);
  if (length > 65535) throw new ProtocolError(`${what}: ${length} bytes, over the 65535 of an MQTT string [MQTT-1.5.3]`);
  return length;
}

function binaryLength(b: unknown, what: string): number {
  if (!(b instanceof Uint8Array)) throw new ProtocolError(`${what}: expected a Uint8Array`);
  if (b.length > 65535) throw new ProtocolError(`${what}: ${b.length} bytes, over 65535`);
  return b.length;
}

function payloadOf(b: unknown, what: string): Uint8Array {
  if (b === undefined) return EMPTY;
  if (!(b instanceof Uint8Array)) throw new ProtocolError(`${what}: payload must be a Uint8Array`);
  return b;
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** Allocates the exact buffer and writes the fixed header; the body starts at out.length - remaining. */
function start(first: number, remaining: number): Uint8Array {
  if (remaining > MAX_REMAINING_LENGTH) {
    throw new ProtocolError(`packet of ${remaining} bytes exceeds the maximum remaining length [MQTT-2.2.3]`);
  }
  const out = new Uint8Array(1 + (remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4) + remaining);
  out[0] = first;
  let at = 1;
  let x = remaining;
  do {
    let digit = x & 0x7f;
    x >>>= 7;
    if (x > 0) digit |= 0x80;
    out[at++] = digit;
  } while (x > 0);
  return out;
}

function writeString(s: string, length: number, out: Uint8Array, at: number): number {
  out[at] = length >> 8;
  out[at + 1] = length & 0xff;
  return utf8Write(s, out, at + 2);
}

function writeBinary(b: Uint8Array, out: Uint8Array, at: number): number {
  out[at] = b.length >> 8;
  out[at + 1] = b.length & 0xff;
  out.set(b, at + 2);
  return at + 2 + b.length;
}

function ack(first: number, id: number): Uint8Array {
  const out = new Uint8Array(4);
  out[0] = first;
  out[1] = 2;
  out[2] = id >> 8;
  out[3] = id & 0xff;
  return out;
}

// PUBLISH topic names, checked and encoded once. Firmware publishes to a handful of fixed topics, and
// on XS a per-character loop costs about 25 computrons a character where a native copy costs 2.
// Bounded: when full it starts again, so a stream of distinct topics cannot grow it. Made on first
// use, not at module load: a Map made while the module is preloaded lives read-only in flash.
let topicCache: Map<string, Uint8Array> | undefined;
const TOPIC_CACHE_LIMIT = 16;

function publishTopicBytes(topic: unknown, what: string): Uint8Array {
  if (topicCache === undefined) topicCache = new Map();
  const cached = typeof topic === "string" ? topicCache.get(topic) : undefined;
  if (cached !== undefined) return cached;
  const length = stringLength(topic, `${what} topic`);
  checkTopicName(topic as string, what);
  const bytes = new Uint8Array(length);
  utf8Write(topic as string, bytes, 0);
  if (topicCache.size >= TOPIC_CACHE_LIMIT) topicCache.clear();
  topicCache.set(topic as string, bytes);
  return bytes;
}

function encodePublish(p: Extract<PacketInput, { cmd: "publish" }>): Uint8Array {
  const qos = p.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) checkQos(qos, "PUBLISH");
  const dup = p.dup === true;
  if (dup && qos === 0) throw new ProtocolError("PUBLISH: DUP must be 0 for QoS 0 [MQTT-3.3.1-2]");
  const topic = publishTopicBytes(p.topic, "PUBLISH");
  const payload = payloadOf(p.payload, "PUBLISH");
  const id = qos > 0 ? checkMessageId(p.messageId, "PUBLISH") : 0;
  const remaining = 2 + topic.length + (qos > 0 ? 2 : 0) + payload.length;
  const out = start((PUBLISH << 4) | (dup ? 8 : 0) | (qos << 1) | (p.retain === true ? 1 : 0), remaining);
  const headerEnd = out.length - remaining;
  let at = headerEnd;
  out[at++] = topic.length >> 8;
  out[at++] = topic.length & 0xff;
  out.set(topic, at);
  at += topic.length;
  if (qos > 0) {
    out[at++] = id >> 8;
    out[at++] = id & 0xff;
  }
  out.set(payload, at);
  return out;
}

function encodeConnect(p: Extract<PacketInput, { cmd: "connect" }>): Uint8Array {
  if (p.protocolId !== undefined && p.protocolId !== "MQTT") {
    throw new ProtocolError(`CONNECT: protocol name must be "MQTT" [MQTT-3.1.2-1]`);
  }
  if (p.protocolVersion !== undefined && p.protocolVersion !== 4) {
    throw new ProtocolError(`CONNECT: protocol level must be 4 for MQTT 3.1.1 [MQTT-3.1.2-2]`);
  }
  const keepalive = p.keepalive;
  if (typeof keepalive !== "number" || !(keepalive >= 0 && keepalive <= 65535) || keepalive !== Math.floor(keepalive)) {
    throw new ProtocolError(`CONNECT: keepalive must be 0..65535 seconds, got ${String(keepalive)} [MQTT-3.1.2.10]`);
  }
  let remaining = 10 + 2 + stringLength(p.clientId, "CONNECT clientId");
  const clientIdLength = remaining - 12;
  let flags = p.clean === true ? 0x02 : 0;
  const will = p.will;
  if (will !== undefined && (typeof will !== "object" || will === null)) {
    throw new ProtocolError("CONNECT: will must be an object {topic, payload, qos, retain}");
  }
  let willTopicLength = 0;
  let willPayload: Uint8Array = EMPTY;
  let willQos: QoS = 0;
  if (will !== undefined) {
    willTopicLength = stringLength(will.topic, "CONNECT will topic");
    checkTopicName(will.topic, "CONNECT will");
    willPayload = payloadOf(will.payload, "CONNECT will");
    binaryLength(willPayload, "CONNECT will payload");
    willQos = checkQos(will.qos ?? 0, "CONNECT will");
    flags |= 0x04 | (willQos << 3) | (will.retain === true ? 0x20 : 0);
    remaining += 2 + willTopicLength + 2 + willPayload.length;
  }
  let usernameLength = 0;
  if (p.username !== undefined) {
    usernameLength = stringLength(p.username, "CONNECT username");
    flags |= 0x80;
    remaining += 2 + usernameLength;
  }
  if (p.password !== undefined) {
    if (p.username === undefined) {
      throw new ProtocolError("CONNECT: a password needs a username [MQTT-3.1.2-22]");
    }
    remaining += 2 + binaryLength(p.password, "CONNECT password");
    flags |= 0x40;
  }
  const out = start(CONNECT << 4, remaining);
  const headerEnd = out.length - remaining;
  let at = headerEnd;
  for (let i = 0; i < PROTOCOL_NAME.length; i++) out[at++] = PROTOCOL_NAME[i];
  out[at++] = 4;
  out[at++] = flags;
  out[at++] = keepalive >> 8;
  out[at++] = keepalive & 0xff;
  at = writeString(p.clientId, clientIdLength, out, at);
  if (will !== undefined) {
    at = writeString(will.topic, willTopicLength, out, at);
    at = writeBinary(willPayload, out, at);
  }
  if (p.username !== undefined) at = writeString(p.username, usernameLength, out, at);
  if (p.password !== undefined) writeBinary(p.password, out, at);
  return out;
}

function encodeSubscribe(messageId: number, subscriptions: Subscription[]): Uint8Array {
  const id = checkMessageId(messageId, "SUBSCRIBE");
  if (!Array.isArray(subscriptions) || subscriptions.length === 0) {
    throw new ProtocolError("SUBSCRIBE: needs at least one topic filter [MQTT-3.8.3-3]");
  }
  const lengths: number[] = [];
  let remaining = 2;
  for (const s of subscriptions) {
    if (typeof s !== "object" || s === null) throw new ProtocolError("SUBSCRIBE: each subscription must be {topic, qos}");
    const length = stringLength(s.topic, "SUBSCRIBE topic filter");
    checkTopicFilter(s.topic, "SUBSCRIBE");
    checkQos(s.qos, "SUBSCRIBE requested");
    lengths.push(length);
    remaining += 2 + length + 1;
  }
  const out = start((SUBSCRIBE << 4) | 0x02, remaining);
  const headerEnd = out.length - remaining;
  let at = headerEnd;
  out[at++] = id >> 8;
  out[at++] = id & 0xff;
  for (let i = 0; i < subscriptions.length; i++) {
    at = writeString(subscriptions[i].topic, lengths[i], out, at);
    out[at++] = subscriptions[i].qos;
  }
  return out;
}

function encodeUnsubscribe(messageId: number, filters: string[]): Uint8Array {
  const id = checkMessageId(messageId, "UNSUBSCRIBE");
  if (!Array.isArray(filters) || filters.length === 0) {
    throw new ProtocolError("UNSUBSCRIBE: needs at least one topic filter [MQTT-3.10.3-2]");
  }
  const lengths: number[] = [];
  let remaining = 2;
  for (const f of filters) {
    const length = stringLength(f, "UNSUBSCRIBE topic filter");
    checkTopicFilter(f, "UNSUBSCRIBE");
    lengths.push(length);
    remaining += 2 + length;
  }
  const out = start((UNSUBSCRIBE << 4) | 0x02, remaining);
  const headerEnd = out.length - remaining;
  let at = headerEnd;
  out[at++] = id >> 8;
  out[at++] = id & 0xff;
  for (let i = 0; i < filters.length; i++) at = writeString(filters[i], lengths[i], out, at);
  return out;
}

function encodeSuback(messageId: number, granted: GrantedQoS[]): Uint8Array {
  const id = checkMessageId(messageId, "SUBACK");
  if (!Array.isArray(granted) || granted.length === 0) {
    throw new ProtocolError("SUBACK: needs one return code per subscription [MQTT-3.9.3-1]");
  }
  const out = start(SUBACK << 4, 2 + granted.length);
  const headerEnd = out.length - (2 + granted.length);
  let at = headerEnd;
  out[at++] = id >> 8;
  out[at++] = id & 0xff;
  for (const g of granted) {
    if (g !== 0 && g !== 1 && g !== 2 && g !== 0x80) {
      throw new ProtocolError(`SUBACK: return code ${String(g)} is reserved [MQTT-3.9.3-2]`);
    }
    out[at++] = g;
  }
  return out;
}

/** Encodes one packet into an exactly-sized buffer; throws ProtocolError for an invalid packet. */
export function encode(packet: PacketInput): Uint8Array {
  if (typeof packet !== "object" || packet === null) throw new ProtocolError("a packet must be an object with a cmd");
  switch (packet.cmd) {
    case "publish":
      return encodePublish(packet);
    case "puback":
      return ack(PUBACK << 4, checkMessageId(packet.messageId, "PUBACK"));
    case "pubrec":
      return ack(PUBREC << 4, checkMessageId(packet.messageId, "PUBREC"));
    case "pubrel":
      return ack((PUBREL << 4) | 0x02, checkMessageId(packet.messageId, "PUBREL"));
    case "pubcomp":
      return ack(PUBCOMP << 4, checkMessageId(packet.messageId, "PUBCOMP"));
    case "unsuback":
      return ack(UNSUBACK << 4, checkMessageId(packet.messageId, "UNSUBACK"));
    case "connect":
      return encodeConnect(packet);
    case "connack": {
      const code = packet.returnCode;
      if (!(code === 0 || code === 1 || code === 2 || code === 3 || code === 4 || code === 5)) {
        throw new ProtocolError(`CONNACK: return code ${String(code)} is reserved [MQTT-3.2.2.3]`);
      }
      const present = packet.sessionPresent === true;
      if (present && code !== 0) {
        throw new ProtocolError("CONNACK: session present must be 0 with a non-zero return code [MQTT-3.2.2-4]");
      }
      return new Uint8Array([CONNACK << 4, 2, present ? 1 : 0, code]);
    }
    case "subscribe":
      return encodeSubscribe(packet.messageId, packet.subscriptions);
    case "suback":
      return encodeSuback(packet.messageId, packet.granted);
    case "unsubscribe":
      return encodeUnsubscribe(packet.messageId, packet.unsubscriptions);
    case "pingreq":
      return new Uint8Array([PINGREQ << 4, 0]);
    case "pingresp":
      return new Uint8Array([PINGRESP << 4, 0]);
    case "disconnect":
      return new Uint8Array([DISCONNECT << 4, 0]);
    default: {
      const cmd: unknown = (packet as { cmd: unknown }).cmd;
      throw new ProtocolError(`unknown packet type ${String(cmd)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Required fixed-header flags per packet type [MQTT-2.2.2-1/2]; PUBLISH (3) carries its own. */
const FLAGS = [-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, -1];
const NAMES = [
  "reserved(0)", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
  "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "reserved(15)",
];

/** Why a first byte is refused, or "" when its type and flags are acceptable. */
function firstByteProblem(first: number): string {
  const type = first >> 4;
  const flags = first & 0x0f;
  if (type === 0 || type === 15) return `reserved packet type ${type} [MQTT-2.2.1]`;
  const required = FLAGS[type];
  if (required >= 0 && flags !== required) {
    return `${NAMES[type]}: fixed-header flags 0b${flags.toString(2).padStart(4, "0")} must be 0b${required.toString(2).padStart(4, "0")} [MQTT-2.2.2-2]`;
  }
  if (type === PUBLISH && (flags & 0x06) === 0x06) return "PUBLISH: QoS 3 [MQTT-3.3.1-4]";
  return "";
}

// One lookup accepts or refuses a first byte: on XS each comparison in JS costs computrons.
const FIRST_BYTE_OK = new Uint8Array(256);
for (let b = 0; b < 256; b++) FIRST_BYTE_OK[b] = firstByteProblem(b) === "" ? 1 : 0;

// readFixedHeader packs its answer into one number: header length x 2^28 + remaining length.
const HEADER_LENGTH_UNIT = 0x10000000;
const REMAINING_MASK = 0x0fffffff;

/**
 * Reads and checks the fixed header at bytes[at..end); -1 while it is incomplete. A packet type,
 * flag or size that cannot be accepted is refused here, before any of its body is buffered.
 */
function readFixedHeader(bytes: Uint8Array, at: number, end: number, maxPacketSize: number): number {
  const first = bytes[at];
  if (FIRST_BYTE_OK[first] === 0) throw new ProtocolError(firstByteProblem(first));
  let remaining = 0;
  let multiplier = 1;
  let i = at + 1;
  for (;;) {
    if (i >= end) return -1;
    const digit = bytes[i++];
    remaining += (digit & 0x7f) * multiplier;
    if (digit < 0x80) break;
    if (multiplier === 2_097_152) throw new ProtocolError("remaining length is longer than four bytes [MQTT-2.2.3]");
    multiplier *= 128;
  }
  const headerLength = i - at;
  if (headerLength + remaining > maxPacketSize) {
    throw new ProtocolError(`${NAMES[first >> 4]} of ${headerLength + remaining} bytes exceeds maxPacketSize ${maxPacketSize}`);
  }
  return headerLength * HEADER_LENGTH_UNIT + remaining;
}

const ACK_CMDS = ["", "", "", "", "puback", "pubrec", "pubrel", "pubcomp", "", "", "", "unsuback"];

// Short strings, the shape of nearly every topic and client id, take a fast path: one native call
// makes the string and one regex proves it plain ASCII without U+0000 (and, for topic names, without
// wildcards). On XS a per-byte check in JS would cost about 25 computrons a byte. Longer strings go
// the general way, so apply never pushes more arguments than the board's small XS stack holds.
const FAST_STRING_MAX = 64;
const NOT_PLAIN_ASCII = /[\u0000\u0080-\uffff]/;
const NOT_PLAIN_TOPIC_NAME = /[\u0000#+\u0080-\uffff]/;

function decodeString(bytes: Uint8Array, from: number, to: number, what: string): string {
  if (to - from <= FAST_STRING_MAX) {
    const s = Reflect.apply(String.fromCharCode, null, bytes.subarray(from, to)) as string;
    if (!NOT_PLAIN_ASCII.test(s)) return s;
    if (s.indexOf("\u0000") !== -1) throw new ProtocolError(`${what}: string contains U+0000 [MQTT-1.5.3-2]`);
  }
  let s: string;
  try {
    s = utf8Decode(bytes, from, to);
  } catch (error) {
    throw new ProtocolError(`${what}: ${(error as Error).message} [MQTT-1.5.3-1]`);
  }
  if (s.indexOf("\u0000") !== -1) throw new ProtocolError(`${what}: string contains U+0000 [MQTT-1.5.3-2]`);
  return s;
}

/** A PUBLISH topic name: well-formed, non-empty, no wildcards [MQTT-4.7.3-1, MQTT-3.3.2-2]. */
function decodeTopicName(bytes: Uint8Array, from: number, to: number): string {
  if (to - from <= FAST_STRING_MAX && to > from) {
    const s = Reflect.apply(String.fromCharCode, null, bytes.subarray(from, to)) as string;
    if (!NOT_PLAIN_TOPIC_NAME.test(s)) return s;
  }
  const topic = decodeString(bytes, from, to, "PUBLISH");
  checkTopicName(topic, "PUBLISH");
  return topic;
}

/** Reads MQTT strings and fields out of one packet body, refusing any overrun of its length. */
class BodyReader {
  bytes: Uint8Array = EMPTY;
  at = 0;
  end = 0;
  what = "";

  reset(bytes: Uint8Array, at: number, end: number, what: string): void {
    this.bytes = bytes;
    this.at = at;
    this.end = end;
    this.what = what;
  }

  u8(): number {
    if (this.at >= this.end) throw new ProtocolError(`${this.what}: truncated, a field overruns the packet`);
    return this.bytes[this.at++];
  }

  u16(): number {
    if (this.at + 2 > this.end) throw new ProtocolError(`${this.what}: truncated, a field overruns the packet`);
    const v = (this.bytes[this.at] << 8) | this.bytes[this.at + 1];
    this.at += 2;
    return v;
  }

  binary(): Uint8Array {
    const length = this.u16();
    if (this.at + length > this.end) {
      throw new ProtocolError(`${this.what}: a length of ${length} overruns the packet`);
    }
    const view = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return view;
  }

  string(): string {
    const length = this.u16();
    const from = this.at;
    const to = from + length;
    if (to > this.end) throw new ProtocolError(`${this.what}: a string length of ${length} overruns the packet`);
    this.at = to;
    return decodeString(this.bytes, from, to, this.what);
  }

  messageId(): number {
    const id = this.u16();
    if (id === 0) throw new ProtocolError(`${this.what}: packet identifier 0 [MQTT-2.3.1-1]`);
    return id;
  }

  done(): void {
    if (this.at !== this.end) {
      throw new ProtocolError(`${this.what}: ${this.end - this.at} unexpected bytes after the last field`);
    }
  }
}

export interface DecoderOptions {
  /** Largest whole packet (fixed header included) accepted; larger announcements are refused at once. */
  maxPacketSize?: number;
}

/**
 * Streaming decoder: push bytes as they arrive, in any chunking; get every complete packet so far.
 * After a ProtocolError the stream is unusable (the connection must be closed) and push keeps throwing.
 */
export class Decoder {
  readonly maxPacketSize: number;
  // True while push runs; still true on entry means the previous push threw, and the stream is
  // beyond repair. A flag, not try/catch: on XS entering a try block costs as much as a whole ack.
  #busy = false;
  #body = new BodyReader();
  // A packet split across chunks: its fixed header is gathered in #header until the total size is
  // known, then the whole packet is gathered in #partial (allocated once, exactly sized).
  #header = new Uint8Array(5);
  #headerFill = 0;
  #partial: Uint8Array = EMPTY;
  #partialFill = 0;

  constructor(options: DecoderOptions = {}) {
    const max = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    if (typeof max !== "number" || !(max >= 2) || max !== Math.floor(max)) {
      throw new RangeError(`maxPacketSize must be a whole number of at least 2, got ${String(max)}`);
    }
    this.maxPacketSize = Math.min(max, MAX_REMAINING_LENGTH + 5);
  }

  /** Bytes held from an incomplete packet. */
  get pendingBytes(): number {
    return this.#headerFill + this.#partialFill;
  }

  push(chunk: Uint8Array): Packet[] {
    if (this.#busy) throw new ProtocolError("the stream failed earlier with a protocol error; close the connection");
    this.#busy = true;
    const packets: Packet[] = [];
    decodedBeforeError = packets;
    let at = (this.#headerFill | this.#partialFill) === 0 ? 0 : this.#continuePartial(chunk, packets);
    const end = chunk.length;
    while (at < end) {
      const header = readFixedHeader(chunk, at, end, this.maxPacketSize);
      if (header < 0) {
        this.#header.set(chunk.subarray(at, end), 0);
        this.#headerFill = end - at;
        break;
      }
      const bodyStart = at + ((header / HEADER_LENGTH_UNIT) | 0);
      const packetEnd = bodyStart + (header & REMAINING_MASK);
      if (packetEnd > end) {
        const partial = new Uint8Array(packetEnd - at);
        partial.set(chunk.subarray(at, end), 0);
        this.#partial = partial;
        this.#partialFill = end - at;
        break;
      }
      packets.push(decodeBody(chunk[at], chunk, bodyStart, packetEnd, this.#body));
      at = packetEnd;
    }
    this.#busy = false;
    decodedBeforeError = NO_PACKETS;
    return packets;
  }

  /** Feeds the start of `chunk` to the split packet; returns where the rest of the chunk begins. */
  #continuePartial(chunk: Uint8Array, packets: Packet[]): number {
    let at = 0;
    if (this.#headerFill > 0) {
      // Add header bytes one by one until the remaining length is complete.
      const header = this.#header;
      let parsed = -1;
      while (parsed < 0 && at < chunk.length) {
        header[this.#headerFill++] = chunk[at++];
        parsed = readFixedHeader(header, 0, this.#headerFill, this.maxPacketSize);
      }
      if (parsed < 0) return at;
      const partial = new Uint8Array(((parsed / HEADER_LENGTH_UNIT) | 0) + (parsed & REMAINING_MASK));
      partial.set(header.subarray(0, this.#headerFill), 0);
      this.#partial = partial;
      this.#partialFill = this.#headerFill;
      this.#headerFill = 0;
    }
    const partial = this.#partial;
    const take = Math.min(partial.length - this.#partialFill, chunk.length - at);
    partial.set(chunk.subarray(at, at + take), this.#partialFill);
    this.#partialFill += take;
    at += take;
    if (this.#partialFill === partial.length) {
      this.#partial = EMPTY;
      this.#partialFill = 0;
      const header = readFixedHeader(partial, 0, partial.length, this.maxPacketSize);
      packets.push(decodeBody(partial[0], partial, (header / HEADER_LENGTH_UNIT) | 0, partial.length, this.#body));
    }
    return at;
  }
}

/** Decodes the body of a packet whose first byte readFixedHeader has accepted. */
function decodeBody(first: number, bytes: Uint8Array, at: number, end: number, r: BodyReader): Packet {
  const type = first >> 4;
  const flags = first & 0x0f;
  switch (type) {
    case PUBLISH: {
      // Inline rather than through BodyReader: this is the hot path.
      const qos = ((flags >> 1) & 3) as QoS;
      const dup = (flags & 8) !== 0;
      if (dup && qos === 0) throw new ProtocolError("PUBLISH: DUP set on QoS 0 [MQTT-3.3.1-2]");
      if (end - at < 2) throw new ProtocolError("PUBLISH: truncated, a field overruns the packet");
      const topicEnd = at + 2 + ((bytes[at] << 8) | bytes[at + 1]);
      if (topicEnd > end) throw new ProtocolError("PUBLISH: the topic length overruns the packet");
      const topic = decodeTopicName(bytes, at + 2, topicEnd);
      const retain = (flags & 1) !== 0;
      if (qos === 0) {
        return { cmd: "publish", topic, payload: bytes.subarray(topicEnd, end), qos, dup, retain };
      }
      if (topicEnd + 2 > end) throw new ProtocolError("PUBLISH: truncated, a field overruns the packet");
      const messageId = (bytes[topicEnd] << 8) | bytes[topicEnd + 1];
      if (messageId === 0) throw new ProtocolError("PUBLISH: packet identifier 0 [MQTT-2.3.1-1]");
      return { cmd: "publish", topic, payload: bytes.subarray(topicEnd + 2, end), qos, dup, retain, messageId };
    }
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP:
    case UNSUBACK: {
      if (end - at !== 2) throw new ProtocolError(`${NAMES[type]}: remaining length must be 2, got ${end - at}`);
      const messageId = (bytes[at] << 8) | bytes[at + 1];
      if (messageId === 0) throw new ProtocolError(`${NAMES[type]}: packet identifier 0 [MQTT-2.3.1-1]`);
      return { cmd: ACK_CMDS[type], messageId } as Packet;
    }
    case PINGREQ:
    case PINGRESP:
    case DISCONNECT:
      if (end !== at) throw new ProtocolError(`${NAMES[type]}: remaining length must be 0, got ${end - at}`);
      return { cmd: type === PINGREQ ? "pingreq" : type === PINGRESP ? "pingresp" : "disconnect" };
    case CONNACK: {
            r.reset(bytes, at, end, NAMES[type]);
      if (end - at !== 2) throw new ProtocolError(`CONNACK: remaining length must be 2, got ${end - at}`);
      const ackFlags = r.u8();
      if ((ackFlags & 0xfe) !== 0) throw new ProtocolError("CONNACK: reserved acknowledge flags are set [MQTT-3.2.2.1]");
      const returnCode = r.u8();
      if (returnCode > 5) throw new ProtocolError(`CONNACK: return code ${returnCode} is reserved [MQTT-3.2.2.3]`);
      const sessionPresent = ackFlags === 1;
      if (sessionPresent && returnCode !== 0) {
        throw new ProtocolError("CONNACK: session present with a non-zero return code [MQTT-3.2.2-4]");
      }
      return { cmd: "connack", sessionPresent, returnCode: returnCode as ConnackReturnCode };
    }
    case SUBSCRIBE: {
            r.reset(bytes, at, end, NAMES[type]);
      const messageId = r.messageId();
      const subscriptions: Subscription[] = [];
      while (r.at < end) {
        const topic = r.string();
        checkTopicFilter(topic, "SUBSCRIBE");
        const options = r.u8();
        if (options > 2) {
          throw new ProtocolError(`SUBSCRIBE: requested QoS byte 0x${options.toString(16)} is invalid [MQTT-3.8.3-4]`);
        }
        subscriptions.push({ topic, qos: options as QoS });
      }
      if (subscriptions.length === 0) throw new ProtocolError("SUBSCRIBE: no topic filters [MQTT-3.8.3-3]");
      return { cmd: "subscribe", messageId, subscriptions };
    }
    case SUBACK: {
            r.reset(bytes, at, end, NAMES[type]);
      const messageId = r.messageId();
      const granted: GrantedQoS[] = [];
      while (r.at < end) {
        const code = r.u8();
        if (code !== 0 && code !== 1 && code !== 2 && code !== 0x80) {
          throw new ProtocolError(`SUBACK: return code 0x${code.toString(16)} is reserved [MQTT-3.9.3-2]`);
        }
        granted.push(code);
      }
      if (granted.length === 0) throw new ProtocolError("SUBACK: no return codes [MQTT-3.9.3-1]");
      return { cmd: "suback", messageId, granted };
    }
    case UNSUBSCRIBE: {
            r.reset(bytes, at, end, NAMES[type]);
      const messageId = r.messageId();
      const unsubscriptions: string[] = [];
      while (r.at < end) {
        const filter = r.string();
        checkTopicFilter(filter, "UNSUBSCRIBE");
        unsubscriptions.push(filter);
      }
      if (unsubscriptions.length === 0) throw new ProtocolError("UNSUBSCRIBE: no topic filters [MQTT-3.10.3-2]");
      return { cmd: "unsubscribe", messageId, unsubscriptions };
    }
    case CONNECT: {
            r.reset(bytes, at, end, NAMES[type]);
      return decodeConnect(r);
    }
    default:
      throw new ProtocolError(`reserved packet type ${type} [MQTT-2.2.1]`);
  }
}

function decodeConnect(r: BodyReader): Packet {
  for (let i = 0; i < PROTOCOL_NAME.length; i++) {
    if (r.u8() !== PROTOCOL_NAME[i]) throw new ProtocolError('CONNECT: protocol name is not "MQTT" [MQTT-3.1.2-1]');
  }
  const level = r.u8();
  if (level !== 4) throw new ProtocolError(`CONNECT: protocol level ${level} is not 4 (MQTT 3.1.1) [MQTT-3.1.2-2]`);
  const flags = r.u8();
  if ((flags & 0x01) !== 0) throw new ProtocolError("CONNECT: reserved flag is set [MQTT-3.1.2-3]");
  const hasWill = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  if (!hasWill && willQos !== 0) throw new ProtocolError("CONNECT: will QoS set without a will [MQTT-3.1.2-13]");
  if (!hasWill && willRetain) throw new ProtocolError("CONNECT: will retain set without a will [MQTT-3.1.2-15]");
  if (willQos === 3) throw new ProtocolError("CONNECT: will QoS 3 [MQTT-3.1.2-14]");
  const hasUsername = (flags & 0x80) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  if (hasPassword && !hasUsername) throw new ProtocolError("CONNECT: password flag without username flag [MQTT-3.1.2-22]");
  const keepalive = r.u16();
  const clientId = r.string();
  let will: Will | undefined;
  if (hasWill) {
    const topic = r.string();
    if (topic.length === 0) throw new ProtocolError("CONNECT: will topic is empty [MQTT-4.7.3-1]");
    if (topic.indexOf("+") !== -1 || topic.indexOf("#") !== -1) {
      throw new ProtocolError(`CONNECT: wildcard in will topic ${JSON.stringify(topic)} [MQTT-3.3.2-2]`);
    }
    will = { topic, payload: r.binary(), qos: willQos as QoS, retain: willRetain };
  }
  const username = hasUsername ? r.string() : undefined;
  const password = hasPassword ? r.binary() : undefined;
  r.done();
  const packet: ConnectPacket = { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: (flags & 0x02) !== 0, keepalive, clientId };
  if (will) packet.will = will;
  if (username !== undefined) packet.username = username;
  if (password !== undefined) packet.password = password;
  return packet;
}
