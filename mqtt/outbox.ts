// The outbox: every message the app hands to the client, in order, until the broker has it.
// Bounded by message count and bytes; optionally persisted through a small slot storage (the
// Moddable `preference` module on the board, a file in the simulator) so it survives a reboot.
//
// When a new message does not fit, the oldest QoS 0 messages still waiting are dropped first; if it
// still does not fit, the new message is refused (add returns undefined) and the caller logs it.
// Messages already handed to the broker (in flight) are never evicted.

import type { QoS } from "./packets";
import { utf8Decode, utf8Length, utf8Write } from "../lib/utf8";

/** Slot storage: one record per slot, values are whole ArrayBuffers. */
export interface OutboxStorage {
  /** Largest record this storage can hold (ESP32 NVS via `preference`: 4000 bytes). */
  readonly maxRecordSize: number;
  /** Number of slots to look at when loading (slots are 0 .. slots - 1). */
  readonly slots: number;
  read(slot: number): ArrayBuffer | undefined;
  write(slot: number, record: ArrayBuffer): void;
  remove(slot: number): void;
}

/** Message states. */
export const QUEUED = 0;
/** PUBLISH sent, PUBACK (QoS 1) or PUBREC (QoS 2) awaited. */
export const SENT = 1;
/** PUBREL sent, PUBCOMP awaited (QoS 2 only). */
export const RELEASED = 2;

/**
 * One message. Shaped like a PUBLISH packet so the session hands it to the encoder as it is (no copy
 * per send). Fields beyond the packet's are bookkeeping.
 */
export interface OutboxEntry {
  readonly cmd: "publish";
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
  dup: boolean;
  messageId: number | undefined;
  /** Monotonic sequence number, the app's handle for the message (> 0). */
  readonly seq: number;
  state: number;
  /** Storage slot, or -1 when not persisted. */
  slot: number;
  /** Bytes counted against the limit. */
  readonly size: number;
}

export interface OutboxOptions {
  /** Most messages held (default 100). */
  maxMessages?: number;
  /** Most bytes held, topics and payloads plus 16 bytes per message (default 32768). */
  maxBytes?: number;
  storage?: OutboxStorage;
  /** Warning sink (message already formatted as `text key=value`). */
  warn?: (message: string) => void;
}

const RECORD_HEADER = 9; // flags, seq (4), messageId (2), topic length (2)
const OVERHEAD = 16;

export class Outbox {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly storage: OutboxStorage | undefined;
  /** Entries in acceptance order. */
  readonly entries: OutboxEntry[] = [];
  bytes = 0;
  /** Messages dropped to make room (QoS 0) since creation. */
  dropped = 0;
  /** Messages refused for lack of room since creation. */
  refused = 0;
  #nextSeq = 1;
  #freeSlots: number[] = [];
  /** Warning sink (set by the client when the app built the outbox without one). */
  warn: ((message: string) => void) | undefined;

  constructor(options: OutboxOptions = {}) {
    const maxMessages = options.maxMessages ?? 100;
    const maxBytes = options.maxBytes ?? 32768;
    if (!(maxMessages >= 1) || maxMessages !== Math.floor(maxMessages)) {
      throw new RangeError(`outbox maxMessages must be a whole number >= 1, got ${String(maxMessages)}`);
    }
    if (!(maxBytes >= 64) || maxBytes !== Math.floor(maxBytes)) {
      throw new RangeError(`outbox maxBytes must be a whole number >= 64, got ${String(maxBytes)}`);
    }
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
    this.storage = options.storage;
    this.warn = options.warn;
    if (this.storage) this.#load(this.storage);
  }

  get length(): number {
    return this.entries.length;
  }

  /** Sequence number the next accepted message gets. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /**
   * Accepts a message, making room by dropping the oldest waiting QoS 0 messages if needed.
   * Returns the entry, or undefined when it does not fit (counted in `refused`, warned).
   * `persist` false keeps it in memory only (a QoS 0 message about to be written at once).
   */
  add(topic: string, payload: Uint8Array, qos: QoS, retain: boolean, persist: boolean): OutboxEntry | undefined {
    const topicLength = utf8Length(topic);
    const size = topicLength + payload.length + OVERHEAD;
    if (size > this.maxBytes) {
      this.refused++;
      this.warn?.(`outbox: message refused, larger than the outbox bytes=${size} max=${this.maxBytes}`);
      return undefined;
    }
    if (this.entries.length + 1 > this.maxMessages || this.bytes + size > this.maxBytes) {
      // Drop the oldest QoS 0 messages still waiting, but only if that makes enough room.
      let count = this.entries.length + 1;
      let bytes = this.bytes + size;
      for (let i = 0; i < this.entries.length && (count > this.maxMessages || bytes > this.maxBytes); i++) {
        const e = this.entries[i];
        if (e.qos === 0 && e.state === QUEUED) {
          count--;
          bytes -= e.size;
        }
      }
      if (count > this.maxMessages || bytes > this.maxBytes) {
        this.refused++;
        this.warn?.(
          `outbox: full, message refused messages=${this.entries.length} bytes=${this.bytes} topic=${topic}`,
        );
        return undefined;
      }
      for (let i = 0; i < this.entries.length && (this.entries.length + 1 > this.maxMessages || this.bytes + size > this.maxBytes); ) {
        const e = this.entries[i];
        if (e.qos === 0 && e.state === QUEUED) {
          this.removeAt(i);
          this.dropped++;
          this.warn?.(`outbox: full, oldest QoS 0 message dropped seq=${e.seq} topic=${e.topic}`);
        } else i++;
      }
    }
    const entry: OutboxEntry = {
      cmd: "publish",
      topic,
      payload,
      qos,
      retain,
      dup: false,
      messageId: undefined,
      seq: this.#nextSeq++,
      state: QUEUED,
      slot: -1,
      size,
    };
    if (this.#nextSeq > 0xffffffff) this.#nextSeq = 1;
    this.entries.push(entry);
    this.bytes += size;
    if (persist) this.#persist(entry, topicLength);
    return entry;
  }

  /** Removes the entry at `index` (and its stored record). */
  removeAt(index: number): OutboxEntry {
    const entry = this.entries[index];
    this.entries.splice(index, 1);
    this.bytes -= entry.size;
    if (entry.slot >= 0 && this.storage) {
      this.storage.remove(entry.slot);
      this.#freeSlots.push(entry.slot);
      entry.slot = -1;
    }
    return entry;
  }

  /** Index of `entry`, searched from the front (acknowledgements mostly hit the oldest messages). */
  indexOf(entry: OutboxEntry): number {
    const entries = this.entries;
    for (let i = 0, n = entries.length; i < n; i++) if (entries[i] === entry) return i;
    return -1;
  }

  /** Writes the entry's current state (message id, QUEUED/SENT/RELEASED) to storage, if it is stored. */
  update(entry: OutboxEntry): void {
    if (entry.slot >= 0 && this.storage) this.storage.write(entry.slot, this.#record(entry, utf8Length(entry.topic)));
  }

  #persist(entry: OutboxEntry, topicLength: number): void {
    const storage = this.storage;
    if (!storage) return;
    if (RECORD_HEADER + topicLength + entry.payload.length > storage.maxRecordSize) {
      this.warn?.(
        `outbox: message too large to persist, kept in memory only seq=${entry.seq} bytes=${entry.size} max=${storage.maxRecordSize}`,
      );
      return;
    }
    const slot = this.#freeSlots.length ? this.#freeSlots.pop()! : -1;
    if (slot < 0) {
      this.warn?.(`outbox: no free storage slot, kept in memory only seq=${entry.seq}`);
      return;
    }
    entry.slot = slot;
    try {
      storage.write(slot, this.#record(entry, topicLength));
    } catch (error) {
      entry.slot = -1;
      this.#freeSlots.push(slot);
      this.warn?.(`outbox: storage write failed, kept in memory only seq=${entry.seq} error=${String(error)}`);
    }
  }

  #record(entry: OutboxEntry, topicLength: number): ArrayBuffer {
    const bytes = new Uint8Array(RECORD_HEADER + topicLength + entry.payload.length);
    bytes[0] = entry.qos | (entry.retain ? 4 : 0) | (entry.state << 3);
    const seq = entry.seq;
    bytes[1] = (seq >>> 24) & 0xff;
    bytes[2] = (seq >>> 16) & 0xff;
    bytes[3] = (seq >>> 8) & 0xff;
    bytes[4] = seq & 0xff;
    const id = entry.messageId ?? 0;
    bytes[5] = id >> 8;
    bytes[6] = id & 0xff;
    bytes[7] = topicLength >> 8;
    bytes[8] = topicLength & 0xff;
    utf8Write(entry.topic, bytes, RECORD_HEADER);
    bytes.set(entry.payload, RECORD_HEADER + topicLength);
    return bytes.buffer;
  }

  #load(storage: OutboxStorage): void {
    const slots = storage.slots;
    let maxSeq = 0;
    const loaded: OutboxEntry[] = [];
    for (let slot = slots - 1; slot >= 0; slot--) {
      let record: ArrayBuffer | undefined;
      try {
        record = storage.read(slot);
      } catch {
        record = undefined;
      }
      if (!(record instanceof ArrayBuffer) || record.byteLength < RECORD_HEADER) {
        if (record !== undefined) storage.remove(slot);
        this.#freeSlots.push(slot);
        continue;
      }
      const bytes = new Uint8Array(record);
      const flags = bytes[0];
      const rawQos = flags & 3;
      const state = (flags >> 3) & 3;
      const seq = ((bytes[1] << 24) >>> 0) + (bytes[2] << 16) + (bytes[3] << 8) + bytes[4];
      const id = (bytes[5] << 8) | bytes[6];
      const topicLength = (bytes[7] << 8) | bytes[8];
      if (rawQos === 3 || state > RELEASED || seq === 0 || RECORD_HEADER + topicLength > bytes.length) {
        storage.remove(slot);
        this.#freeSlots.push(slot);
        this.warn?.(`outbox: corrupt stored message discarded slot=${slot}`);
        continue;
      }
      let topic: string;
      try {
        topic = utf8Decode(bytes, RECORD_HEADER, RECORD_HEADER + topicLength);
      } catch {
        storage.remove(slot);
        this.#freeSlots.push(slot);
        this.warn?.(`outbox: corrupt stored message discarded slot=${slot}`);
        continue;
      }
      const qos = rawQos as QoS;
      const payload = bytes.slice(RECORD_HEADER + topicLength);
      loaded.push({
        cmd: "publish",
        topic,
        payload,
        qos,
        retain: (flags & 4) !== 0,
        dup: false,
        messageId: qos > 0 && id > 0 ? id : undefined,
        seq,
        state: qos > 0 ? state : QUEUED,
        slot,
        size: topicLength + payload.length + OVERHEAD,
      });
      if (seq > maxSeq) maxSeq = seq;
    }
    loaded.sort((a, b) => a.seq - b.seq);
    for (const entry of loaded) {
      if (this.entries.length >= this.maxMessages || this.bytes + entry.size > this.maxBytes) {
        // Limits shrank since the records were written: keep what fits, oldest first.
        storage.remove(entry.slot);
        this.#freeSlots.push(entry.slot);
        this.dropped++;
        this.warn?.(`outbox: stored message beyond the limits dropped seq=${entry.seq}`);
        continue;
      }
      this.entries.push(entry);
      this.bytes += entry.size;
    }
    this.#nextSeq = maxSeq + 1 > 0xffffffff ? 1 : maxSeq + 1;
  }
}

/** Storage in memory (tests, and a client that must not persist). Shared object survives "reboots". */
export class MemoryStorage implements OutboxStorage {
  readonly maxRecordSize: number;
  readonly slots: number;
  readonly records = new Map<number, ArrayBuffer>();
  writes = 0;
  constructor(slots = 100, maxRecordSize = 4000) {
    this.slots = slots;
    this.maxRecordSize = maxRecordSize;
  }
  read(slot: number): ArrayBuffer | undefined {
    const r = this.records.get(slot);
    return r ? r.slice(0) : undefined;
  }
  write(slot: number, record: ArrayBuffer): void {
    if (slot < 0 || slot >= this.slots) throw new RangeError(`slot ${slot} out of range`);
    this.writes++;
    this.records.set(slot, record.slice(0));
  }
  remove(slot: number): void {
    this.records.delete(slot);
  }
}
