// Bytes -> MQTT 3.1.1 packets: the streaming Decoder. Sans-I/O, the same on the board, in the
// simulator and on the host. Strict: every refusal is a ProtocolError naming the rule it breaks.
//
// Decoded PUBLISH payloads, CONNECT will payloads and passwords are views into the bytes given to
// `push` (no copy in the common case of whole packets per chunk): do not reuse a pushed buffer.

import * as wire from "./packets";
import type { ConnackReturnCode, ConnectPacket, GrantedQoS, Packet, QoS, Subscription, Will } from "./packets";
import { checkTopicFilter, checkTopicName, ProtocolError } from "./validate";
import { utf8Decode } from "../lib/utf8";

// The wire numbers as this module's own constants: V8 folds a module's const into the code of the
// hot switch in decodeBody, but loads an imported binding at every use, which halved the speed of
// decoding a stream of acks.
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

/** Default cap on a whole packet (fixed header included): a few downlink messages fit an ESP32 heap. */
export const DEFAULT_MAX_PACKET_SIZE = 16_384;

const NO_PACKETS: readonly Packet[] = Object.freeze([]);
const EMPTY: Uint8Array = new Uint8Array(0);

/** Required fixed-header flags per packet type [MQTT-2.2.2-1/2]; PUBLISH (3) carries its own. */
const FLAGS: readonly number[] = Object.freeze([-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, -1]);
const NAMES: readonly string[] = Object.freeze([
  "reserved(0)", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
  "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "reserved(15)",
]);

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

// One lookup accepts or refuses a first byte: on XS each comparison in JS costs computrons. Filled
// while the module loads and only read afterwards, so it may live in flash.
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

// Never written (readonly), but not frozen: V8 reads a frozen array's elements slower, which cost a
// fifth of the speed of decoding a stream of acks.
const ACK_CMDS: readonly string[] = ["", "", "", "", "puback", "pubrec", "pubrel", "pubcomp", "", "", "", "unsuback"];

/**
 * The string of bytes[from, to) when they are plain ASCII without U+0000, the shape of nearly every
 * topic and client id; undefined otherwise, and the strict decoder decides. The device's native
 * String.fromArrayBuffer makes the string (a loop in JavaScript costs about 25 computrons a byte in
 * XS); one UTF-16 unit per byte proves every byte ASCII, since any longer sequence, well-formed or
 * not, gives fewer units or makes the native throw.
 */
function plainString(bytes: Uint8Array, from: number, to: number): string | undefined {
  const start = bytes.byteOffset + from;
  let s: string;
  try {
    s = String.fromArrayBuffer((bytes.buffer as ArrayBuffer).slice(start, start + to - from));
  } catch {
    return undefined;
  }
  return s.length === to - from && s.indexOf("\u0000") === -1 ? s : undefined;
}

// Up to this many bytes, a string with U+0000 is refused for that first, well-formed or not (the
// rule this decoder has always applied to short strings; longer ones are checked for UTF-8 first).
const NUL_FIRST_MAX = 64;

/** `units` is the decoder's scratch space for utf8Decode. */
function decodeString(bytes: Uint8Array, from: number, to: number, what: string, units: number[]): string {
  return plainString(bytes, from, to) ?? strictString(bytes, from, to, what, units);
}

/** A string that is not plain ASCII: well-formed UTF-8 [MQTT-1.5.3-1] without U+0000 [MQTT-1.5.3-2]. */
function strictString(bytes: Uint8Array, from: number, to: number, what: string, units: number[]): string {
  if (to - from <= NUL_FIRST_MAX) {
    for (let i = from; i < to; i++) {
      if (bytes[i] === 0) throw new ProtocolError(`${what}: string contains U+0000 [MQTT-1.5.3-2]`);
    }
  }
  let s: string;
  try {
    s = utf8Decode(bytes, from, to, false, units);
  } catch (error) {
    throw new ProtocolError(`${what}: ${(error as Error).message} [MQTT-1.5.3-1]`);
  }
  if (s.indexOf("\u0000") !== -1) throw new ProtocolError(`${what}: string contains U+0000 [MQTT-1.5.3-2]`);
  return s;
}

/** A PUBLISH topic name off the hot path: well-formed, non-empty, no wildcards [MQTT-4.7.3-1, MQTT-3.3.2-2]. */
function topicNameOf(bytes: Uint8Array, from: number, to: number, r: BodyReader): string {
  const topic = decodeString(bytes, from, to, "PUBLISH", r.units);
  checkTopicName(topic, "PUBLISH");
  return topic;
}

/** The type bits of a PUBLISH's first byte. */
const PUBLISH_TYPE = PUBLISH << 4;

/** Reads MQTT strings and fields out of one packet body, refusing any overrun of its length. */
class BodyReader {
  /** Scratch space for decoding strings that are not plain ASCII. */
  readonly units: number[] = [];
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
    return decodeString(this.bytes, from, to, this.what, this.units);
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
  // The packets of the push under way; undefined between pushes. Still set on entry means the
  // previous push threw: the stream is beyond repair, and these are the valid packets that preceded
  // the error. A field, not try/catch: on XS entering a try block costs as much as a whole ack.
  #pushing: readonly Packet[] | undefined = undefined;
  #body = new BodyReader();
  // A packet split across chunks: its fixed header is gathered in #header until the total size is
  // known, then the whole packet is gathered in #partial (allocated once, exactly sized).
  #header = new Uint8Array(5);
  #headerFill = 0;
  /** #headerFill + #partialFill: one field for push to test. */
  #held = 0;
  #partial: Uint8Array = EMPTY;
  #partialFill = 0;
  /** A split packet completed by #continuePartial, for push to decode. */
  #done: Uint8Array = EMPTY;

  constructor(options: DecoderOptions = {}) {
    const max = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    if (typeof max !== "number" || !(max >= 2) || max !== Math.floor(max)) {
      throw new RangeError(`maxPacketSize must be a whole number of at least 2, got ${String(max)}`);
    }
    this.maxPacketSize = Math.min(max, MAX_REMAINING_LENGTH + 5);
  }

  /**
   * After push threw a ProtocolError: the complete, valid packets that preceded the error in that
   * push, so a caller can act on them (an ack, a message) before it closes the connection. Empty
   * otherwise.
   */
  get packetsBeforeError(): readonly Packet[] {
    return this.#pushing ?? NO_PACKETS;
  }

  /** Bytes held from an incomplete packet. */
  get pendingBytes(): number {
    return this.#held;
  }

  push(chunk: Uint8Array): Packet[] {
    if (this.#pushing) {
      throw new ProtocolError("the stream failed earlier with a protocol error; close the connection");
    }
    const packets: Packet[] = [];
    this.#pushing = packets;
    let count = 0;
    // A packet split across pushes is completed first, then decoded by the loop below, which is
    // the only place a packet is decoded; the chunk resumes at `rest` after it.
    let bytes = chunk;
    let at = 0;
    let end = chunk.length;
    let rest = -1;
    if (this.#held !== 0) {
      rest = this.#continuePartial(chunk);
      const done = this.#done;
      if (done === EMPTY) {
        at = end;
        rest = -1;
      } else {
        this.#done = EMPTY;
        bytes = done;
        end = done.length;
      }
    }
    const max = this.maxPacketSize;
    for (;;) {
      while (at < end) {
        // The fixed header of a packet under 16 KB is read here (on XS a call with four arguments
        // costs as much as the rest); anything else, readFixedHeader reads and refuses in order.
        const first = bytes[at];
        let bodyStart = -1;
        let remaining = 0;
        if (FIRST_BYTE_OK[first] === 1 && at + 1 < end) {
          const digit = bytes[at + 1];
          if (digit < 0x80) {
            remaining = digit;
            bodyStart = at + 2;
          } else if (at + 2 < end && bytes[at + 2] < 0x80) {
            remaining = (digit & 0x7f) | (bytes[at + 2] << 7);
            bodyStart = at + 3;
          }
        }
        if (bodyStart < 0 || bodyStart - at + remaining > max) {
          const header = readFixedHeader(bytes, at, end, max);
          if (header < 0) {
            this.#header.set(bytes.subarray(at, end), 0);
            this.#headerFill = end - at;
            this.#held = end - at;
            break;
          }
          bodyStart = at + ((header / HEADER_LENGTH_UNIT) | 0);
          remaining = header & REMAINING_MASK;
        }
        const packetEnd = bodyStart + remaining;
        if (packetEnd > end) {
          const partial = new Uint8Array(packetEnd - at);
          partial.set(bytes.subarray(at, end), 0);
          this.#partial = partial;
          this.#partialFill = end - at;
          this.#held = end - at;
          break;
        }
        at = packetEnd;
        if ((first & 0xf0) !== PUBLISH_TYPE) {
          packets[count++] = decodeBody(first, bytes, bodyStart, packetEnd, this.#body);
          continue;
        }
        // PUBLISH, the hot path, is decoded right here (a call would cost as much as its checks).
        const qos = ((first >> 1) & 3) as QoS;
        const dup = (first & 8) !== 0;
        if (dup && qos === 0) throw new ProtocolError("PUBLISH: DUP set on QoS 0 [MQTT-3.3.1-2]");
        if (packetEnd - bodyStart < 2) throw new ProtocolError("PUBLISH: truncated, a field overruns the packet");
        const from = bodyStart + 2;
        const length = (bytes[bodyStart] << 8) | bytes[bodyStart + 1];
        const topicEnd = from + length;
        if (topicEnd > packetEnd) throw new ProtocolError("PUBLISH: the topic length overruns the packet");
        // A plain ASCII topic without U+0000 or wildcards (plainString, inline); anything else is
        // decoded and checked by topicNameOf.
        let topic: string | undefined;
        if (length !== 0) {
          const start = bytes.byteOffset + from;
          try {
            topic = String.fromArrayBuffer((bytes.buffer as ArrayBuffer).slice(start, start + length));
          } catch {
            topic = undefined;
          }
        }
        if (topic === undefined || topic.length !== length || topic.indexOf("\u0000") !== -1 || topic.indexOf("#") !== -1 || topic.indexOf("+") !== -1) {
          topic = topicNameOf(bytes, from, topicEnd, this.#body);
        }
        const retain = (first & 1) !== 0;
        if (qos === 0) {
          packets[count++] = { cmd: "publish", topic, payload: bytes.subarray(topicEnd, packetEnd), qos, dup, retain };
          continue;
        }
        if (topicEnd + 2 > packetEnd) throw new ProtocolError("PUBLISH: truncated, a field overruns the packet");
        const messageId = (bytes[topicEnd] << 8) | bytes[topicEnd + 1];
        if (messageId === 0) throw new ProtocolError("PUBLISH: packet identifier 0 [MQTT-2.3.1-1]");
        packets[count++] = { cmd: "publish", topic, payload: bytes.subarray(topicEnd + 2, packetEnd), qos, dup, retain, messageId };
      }
      if (rest < 0) break;
      bytes = chunk;
      at = rest;
      end = chunk.length;
      rest = -1;
    }
    this.#pushing = undefined;
    return packets;
  }

  /**
   * Feeds the start of `chunk` to the split packet; returns where the rest of the chunk begins. A
   * completed packet is left in #done for push to decode.
   */
  #continuePartial(chunk: Uint8Array): number {
    let at = 0;
    if (this.#headerFill > 0) {
      // Add header bytes one by one until the remaining length is complete.
      const header = this.#header;
      let parsed = -1;
      while (parsed < 0 && at < chunk.length) {
        header[this.#headerFill++] = chunk[at++];
        parsed = readFixedHeader(header, 0, this.#headerFill, this.maxPacketSize);
      }
      if (parsed < 0) {
        this.#held = this.#headerFill;
        return at;
      }
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
      this.#done = partial;
    }
    this.#held = this.#partialFill;
    return at;
  }
}

/** Decodes the body of a packet other than PUBLISH (Decoder.#publish) whose first byte is accepted. */
function decodeBody(first: number, bytes: Uint8Array, at: number, end: number, r: BodyReader): Packet {
  const type = first >> 4;
  const flags = first & 0x0f;
  switch (type) {
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
    checkTopicName(topic, "CONNECT will");
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
