// MQTT 3.1.1 packets -> bytes. Sans-I/O: pure functions over Uint8Array, the same on the board, in
// the simulator and on the host. Strict: `encode` refuses to produce anything the decoder
// (./decode) would refuse, and every refusal is a ProtocolError naming the rule it breaks.

import * as wire from "./packets";
import type { GrantedQoS, Packet, PacketInput, QoS, Subscription } from "./packets";
import { checkTopicFilter, checkTopicName, ProtocolError, stringProblem } from "./validate";
import { utf8Length } from "../lib/utf8";

// The wire numbers as this module's own constants, for the reason given in ./decode.ts (V8 folds a
// module's const, not an imported binding).
const CONNECT = wire.CONNECT;
const CONNACK = wire.CONNACK;
const PUBLISH = wire.PUBLISH;
const PUBACK = wire.PUBACK;
const PUBREC = wire.PUBREC;
const PUBREL = wire.PUBREL;
const PUBCOMP = wire.PUBCOMP;
const SUBSCRIBE = wire.SUBSCRIBE;
const SUBACK = wire.SUBACK;
const UNSUBSCRIBE = wire.UNSUBSCRIBE;
const UNSUBACK = wire.UNSUBACK;
const PINGREQ = wire.PINGREQ;
const PINGRESP = wire.PINGRESP;
const DISCONNECT = wire.DISCONNECT;
const { MAX_REMAINING_LENGTH, PROTOCOL_NAME } = wire;

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

/** UTF-8 length of an MQTT string, refusing what [MQTT-1.5.3-1/2] forbids and what does not fit. */
function stringLength(s: unknown, what: string): number {
  const problem = stringProblem(s);
  if (problem !== "") throw new ProtocolError(`${what}: ${problem}`);
  return utf8Length(s as string);
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

/** Bytes the remaining length takes in the fixed header [MQTT-2.2.3]. */
function lengthBytes(remaining: number): number {
  return remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
}

function checkRemaining(remaining: number): void {
  if (remaining > MAX_REMAINING_LENGTH) {
    throw new ProtocolError(`packet of ${remaining} bytes exceeds the maximum remaining length [MQTT-2.2.3]`);
  }
}

/** Writes the fixed header at out[0] (checked with checkRemaining): the first byte, then the remaining length [MQTT-2.2.3]. */
function writeFixedHeader(out: Uint8Array, first: number, remaining: number): void {
  out[0] = first;
  let at = 1;
  let x = remaining;
  do {
    let digit = x & 0x7f;
    x >>>= 7;
    if (x > 0) digit |= 0x80;
    out[at++] = digit;
  } while (x > 0);
}

/** Allocates the exact buffer and writes the fixed header; the body starts at out.length - remaining. */
function start(first: number, remaining: number): Uint8Array {
  checkRemaining(remaining);
  const out = new Uint8Array(1 + lengthBytes(remaining) + remaining);
  writeFixedHeader(out, first, remaining);
  return out;
}

function writeString(s: string, length: number, out: Uint8Array, at: number): number {
  out[at] = length >> 8;
  out[at + 1] = length & 0xff;
  // The device's native encoder: a JS loop costs about 21 computrons a character in XS. `s` passed
  // stringLength, so it has no lone surrogate and no U+0000 to encode.
  if (length > 0) out.set(new Uint8Array(ArrayBuffer.fromString(s)), at + 2);
  return at + 2 + length;
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

/**
 * A PUBLISH topic name as it goes on the wire, its length (2 bytes) then its checked UTF-8 bytes:
 * alone for QoS 0, and with room after it for the packet identifier, written in place per packet.
 */
interface TopicField {
  readonly plain: ArrayBuffer;
  readonly withId: Uint8Array;
}

function topicField(topic: unknown): TopicField {
  const length = stringLength(topic, "PUBLISH topic");
  checkTopicName(topic as string, "PUBLISH");
  const withId = new Uint8Array(2 + length + 2);
  writeString(topic as string, length, withId, 0);
  return { plain: (withId.buffer as ArrayBuffer).slice(0, 2 + length), withId };
}

type PublishInput = Extract<PacketInput, { cmd: "publish" }>;

/** The first byte of a PUBLISH before its flags. */
const PUBLISH_FIRST = PUBLISH << 4;

/** What an encoder reuses for every PUBLISH: a fixed header of each possible size (2 to 5 bytes). */
type PublishHeads = readonly Uint8Array[];

function publishHeads(): PublishHeads {
  return [new Uint8Array(2), new Uint8Array(3), new Uint8Array(4), new Uint8Array(5)];
}

/**
 * `topic`: the topic field of p.topic. The client's hot path, so written for XS, where every
 * operation is counted: checks inline, in the order of the general rules above; the fixed header and
 * the identifier written in place; the packet made by one native `ArrayBuffer.prototype.concat` (a
 * memcpy of header, topic, identifier and payload), which allocates what `new Uint8Array(size)`
 * would and replaces two copies that XS counts byte by byte. What is written in place is copied
 * before this returns, so reusing it is safe.
 */
function encodePublish(p: PublishInput, topic: TopicField, heads: PublishHeads): Uint8Array {
  const qos = p.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) checkQos(qos, "PUBLISH");
  let first = PUBLISH_FIRST | (qos << 1);
  if (p.dup === true) {
    if (qos === 0) throw new ProtocolError("PUBLISH: DUP must be 0 for QoS 0 [MQTT-3.3.1-2]");
    first |= 8;
  }
  if (p.retain === true) first |= 1;
  let payload = p.payload;
  if (payload === undefined) payload = EMPTY;
  else if (!(payload instanceof Uint8Array)) throw new ProtocolError("PUBLISH: payload must be a Uint8Array");
  const size = payload.length;
  let field = topic.plain;
  if (qos !== 0) {
    const id = p.messageId as number;
    // One mask proves a whole number in 0..65535 (strings, NaN and fractions all fail it).
    if ((id & 0xffff) !== id || id === 0) checkMessageId(id, "PUBLISH");
    const withId = topic.withId;
    const at = withId.length - 2;
    withId[at] = id >> 8;
    withId[at + 1] = id;
    field = withId.buffer as ArrayBuffer;
  }
  const remaining = field.byteLength + size;
  let head: Uint8Array;
  if (remaining < 128) {
    head = heads[0];
    head[0] = first;
    head[1] = remaining;
  } else if (remaining < 16_384) {
    head = heads[1];
    head[0] = first;
    head[1] = remaining | 0x80;
    head[2] = remaining >> 7;
  } else {
    checkRemaining(remaining);
    head = heads[lengthBytes(remaining) - 1];
    writeFixedHeader(head, first, remaining);
  }
  // A view of part of a buffer is copied out first (concat takes whole buffers). Payloads are the
  // firmware's own Uint8Arrays, never over a SharedArrayBuffer, which concat would refuse.
  let bytes = payload.buffer as ArrayBuffer;
  const offset = payload.byteOffset;
  if (offset !== 0 || size !== bytes.byteLength) bytes = bytes.slice(offset, offset + size);
  return new Uint8Array((head.buffer as ArrayBuffer).concat(field, bytes));
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

const TOPIC_CACHE_LIMIT = 16;

/**
 * Encodes packets for one connection or app. It remembers the topic fields of the PUBLISH topic
 * names it has checked (firmware publishes to a handful of fixed topics, so each is checked and
 * encoded once) and keeps the buffers a PUBLISH's fixed header is written into. Both live in the
 * instance, not the module, because a preloaded module's objects are read-only in flash.
 */
export class Encoder {
  readonly #topics = new Map<string, TopicField>();
  readonly #heads = publishHeads();

  /** Encodes one packet into an exactly-sized buffer; throws ProtocolError for an invalid packet. */
  encode(packet: PacketInput): Uint8Array {
    if (typeof packet !== "object" || packet === null || packet.cmd !== "publish") return encode(packet);
    // Only checked topics are stored, so a hit needs no checking (and a non-string never hits).
    const topics = this.#topics;
    let topic = topics.get(packet.topic);
    if (topic === undefined) {
      topic = topicField(packet.topic);
      // Bounded: when full it starts again, so a stream of distinct topics cannot grow it.
      if (topics.size >= TOPIC_CACHE_LIMIT) topics.clear();
      topics.set(packet.topic, topic);
    }
    return encodePublish(packet, topic, this.#heads);
  }
}

/** Encodes one packet into an exactly-sized buffer; throws ProtocolError for an invalid packet. */
export function encode(packet: PacketInput): Uint8Array {
  if (typeof packet !== "object" || packet === null) throw new ProtocolError("a packet must be an object with a cmd");
  switch (packet.cmd) {
    case "publish":
      return encodePublish(packet, topicField(packet.topic), publishHeads());
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

/**
 * The size a decoded packet has on the wire, fixed header included, without encoding it: for logs of
 * received packets. Computed for what a broker sends a client; anything else is encoded to be sized.
 */
export function encodedLength(packet: Packet): number {
  let remaining: number;
  switch (packet.cmd) {
    case "publish":
      remaining = 2 + utf8Length(packet.topic) + (packet.qos > 0 ? 2 : 0) + packet.payload.length;
      break;
    case "connack":
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
    case "unsuback":
      remaining = 2;
      break;
    case "suback":
      remaining = 2 + packet.granted.length;
      break;
    case "pingresp":
      remaining = 0;
      break;
    default:
      return encode(packet).length;
  }
  return 1 + lengthBytes(remaining) + remaining;
}
