// MQTT 3.1.1 framing for the soak's taps and its hostile broker: splits a byte stream into whole
// packets by the fixed header alone (so a packet the device's decoder must refuse, e.g. a topic that
// is not UTF-8 or a 100 KB PUBLISH, is still framed and forwarded byte for byte), reads the few fields
// the soak needs, and builds raw server-to-client packets, malformed ones included.
//
// Independent of mqtt/'s codec (the code under test), so a bug there cannot hide itself; only the
// packet type numbers, which are the spec's, come from mqtt/packets.ts.

import { PUBACK, PUBLISH, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE } from "../../mqtt/packets.ts";

/** One whole packet and what the soak reads from it. */
export interface Frame {
  readonly type: number;
  readonly bytes: Buffer;
  /** PUBLISH only. */
  readonly qos: number;
  /** PUBLISH: the topic bytes as latin1 (they may not be UTF-8); "" otherwise. */
  readonly topic: string;
  /** PUBLISH (QoS > 0), PUBACK, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK; else 0. */
  readonly messageId: number;
  /** PUBLISH payload; empty otherwise. */
  readonly payload: Buffer;
}

/** Splits a stream into packets; push() returns the packets completed by this chunk. */
export class Framer {
  #buffer: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): Frame[] {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : Buffer.from(chunk);
    const frames: Frame[] = [];
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) break;
      let remaining = 0;
      let multiplier = 1;
      let at = 1;
      let complete = false;
      for (; at < 5 && at < b.length; at++) {
        remaining += (b[at]! & 0x7f) * multiplier;
        multiplier *= 128;
        if ((b[at]! & 0x80) === 0) {
          complete = true;
          at++;
          break;
        }
      }
      if (!complete) {
        if (b.length >= 5) throw new Error("frames: remaining length longer than 4 bytes");
        break;
      }
      if (b.length < at + remaining) break;
      frames.push(readFrame(b.subarray(0, at + remaining), at));
      this.#buffer = b.subarray(at + remaining);
    }
    return frames;
  }
}

function readFrame(bytes: Buffer, body: number): Frame {
  const type = bytes[0]! >> 4;
  let qos = 0;
  let topic = "";
  let messageId = 0;
  let payload: Buffer = Buffer.alloc(0);
  if (type === PUBLISH) {
    qos = (bytes[0]! >> 1) & 3;
    const length = bytes.readUInt16BE(body);
    topic = bytes.toString("latin1", body + 2, body + 2 + length);
    let at = body + 2 + length;
    if (qos > 0) {
      messageId = bytes.readUInt16BE(at);
      at += 2;
    }
    payload = bytes.subarray(at);
  } else if (type === PUBACK || type === SUBSCRIBE || type === SUBACK || type === UNSUBSCRIBE || type === UNSUBACK) {
    messageId = bytes.readUInt16BE(body);
  }
  return { type, bytes: Buffer.from(bytes), qos, topic, messageId, payload };
}

/** The topic filters of a SUBSCRIBE, in order. */
export function subscribeFilters(frame: Frame): string[] {
  const b = frame.bytes;
  let at = bodyStart(b) + 2;
  const filters: string[] = [];
  while (at < b.length) {
    const length = b.readUInt16BE(at);
    filters.push(b.toString("utf8", at + 2, at + 2 + length));
    at += 2 + length + 1;
  }
  return filters;
}

/** The return codes of a SUBACK. */
export function subackCodes(frame: Frame): number[] {
  const b = frame.bytes;
  return [...b.subarray(bodyStart(b) + 2)];
}

/** The return code of a CONNACK. */
export function connackCode(frame: Frame): number {
  return frame.bytes[bodyStart(frame.bytes) + 1]!;
}

function bodyStart(b: Buffer): number {
  let at = 1;
  while (b[at]! & 0x80) at++;
  return at + 1;
}

function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]);
}

/** CONNACK with this return code (session present 0). */
export function connack(returnCode: number): Buffer {
  return packet(0x20, Buffer.from([0, returnCode]));
}

/** A QoS 0 PUBLISH; `topic` as raw bytes so a test can send one that is not UTF-8. */
export function publish(topic: string | Buffer, payload: string | Buffer): Buffer {
  const t = typeof topic === "string" ? Buffer.from(topic, "utf8") : topic;
  const p = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const length = Buffer.alloc(2);
  length.writeUInt16BE(t.length);
  return packet(0x30, Buffer.concat([length, t, p]));
}

/** The same SUBACK with every return code replaced by `code` (0x80: the broker refused). */
export function rewriteSuback(frame: Frame, code: number): Buffer {
  const out = Buffer.from(frame.bytes);
  out.fill(code, bodyStart(out) + 2);
  return out;
}
