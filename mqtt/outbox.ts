// The outbox: every message the app hands to the client, in order, until the broker has it.
// Bounded by message count and bytes; optionally persisted through a small slot storage (the
// Moddable `preference` module on the board: NVS flash) so what must survive a reboot does.
//
// When a new message does not fit, the oldest QoS 0 messages still waiting are dropped first; if it
// still does not fit, the new message is refused (add returns undefined) and the caller logs it.
// Messages already handed to the broker (in flight) are never evicted.
//
// Flash wear. Every message lives in memory; storage holds only what a reboot must not lose, because
// each NVS write and erase wears the flash and a device reports for years. Writes per message:
//   - online, the broker acknowledges within `persistAfter` (5 s): none (0 writes, 0 erases);
//   - online, still unacknowledged after `persistAfter`: 1 write then, 1 erase at the acknowledgement;
//   - accepted while not connected (offline, logging in, network down): 1 write at once, 1 erase at
//     the acknowledgement;
//   - held in memory only when the connection drops or the client ends: 1 write at that moment;
//   - persistent sessions (clean false) also rewrite a stored message once when it is sent (its packet
//     id), and a stored QoS 2 message once at PUBREC.
// The price: a power cut loses what was accepted online less than `persistAfter` before it and not yet
// acknowledged. Everything older, and everything accepted offline, comes back after the reboot.
//
// Identity. A stored record carries a hash of the client identity it was made for (clientId and
// username: OneNET's device and product). A board re-flashed as another device must not replay the
// old device's messages: their topics name the old device, and OneNET disconnects a device that
// publishes outside its own topic space, at every reconnect, for good. At load such records (and
// records of an earlier format, which carry no identity) are dropped and counted in one warning.
// Dropping is the safe choice: re-addressing would have to rewrite topics and payloads the app made
// for another device, and would post one device's readings as another's.
//
// Storage errors. Every storage call is guarded: a failed write or erase (ESP32: "nvs set fail",
// "nvs erase fail") is warned about (the 1st, 2nd, 4th, 8th ... failure in a row, and the recovery),
// the message stays in memory, and storage is left alone until a retry 5 s later (doubling to 5 min).
// A record whose erase failed is erased at the retry; until then a reboot may send its message again
// (at least once, never lost).

import type { QoS } from "./packets";
import { utf8Decode, utf8Length, utf8Write } from "../lib/utf8";
import { hash32 } from "../lib/backoff";

/** Slot storage: one record per slot, values are whole ArrayBuffers. Any call may throw. */
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

/** OutboxEntry.slot: in memory only, to be stored when due. */
export const NOT_STORED = -1;
/** OutboxEntry.slot: in memory only for good (larger than a storage record). */
export const UNSTORABLE = -2;

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
  /** Storage slot, or NOT_STORED / UNSTORABLE. */
  slot: number;
  /** Bytes counted against the limit. */
  readonly size: number;
  /** When it was accepted (the session's clock, ms). */
  readonly at: number;
}

export interface OutboxOptions {
  /** Most messages held (default 100). */
  maxMessages?: number;
  /** Most bytes held, topics and payloads plus 16 bytes per message (default 32768). */
  maxBytes?: number;
  storage?: OutboxStorage;
  /** A message accepted online is stored once it has waited this long unacknowledged (ms, default 5000). */
  persistAfter?: number;
  /** Warning sink (message already formatted as `text key=value`). */
  warn?: (message: string) => void;
}

// flags (format bit, qos, retain, state), seq (4), messageId (2), identity (4), topic length (2)
const RECORD_HEADER = 13;
/** Flags bit of the current record format (the one with an identity). */
const FORMAT = 0x80;
const OVERHEAD = 16;
const RETRY_MIN = 5000;
const RETRY_MAX = 300000;

export class Outbox {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly storage: OutboxStorage | undefined;
  readonly persistAfter: number;
  /** Entries in acceptance order. */
  readonly entries: OutboxEntry[] = [];
  bytes = 0;
  /** Messages dropped to make room (QoS 0) since creation. */
  dropped = 0;
  /** Messages refused for lack of room since creation. */
  refused = 0;
  /** Stored messages dropped at load because they were made for another client identity. */
  foreign = 0;
  /** Storage calls that failed since creation. */
  storageFailures = 0;
  /** Warning sink (set by the client when the app built the outbox without one). */
  warn: ((message: string) => void) | undefined;

  #nextSeq = 1;
  #identity: number | undefined;
  #stored = 0;
  #free: number[] = [];
  // Slots whose record must go (an erase failed, or a rewrite did): erased at the next retry.
  #stale: number[] = [];
  #now = 0;
  #failing = false;
  #failuresInRow = 0;
  #retryAt = 0;
  #retryDelay = RETRY_MIN;
  #noSlot = 0;
  // nextPersist's answer while nothing changed (every method that changes it clears #persistKnown).
  #persistAt = -1;
  #persistKnown = false;
  // The last topic measured and its UTF-8 length: a device publishes to a few fixed topics, and on XS
  // measuring a 46-character topic costs more than the rest of add() (~1,700 computrons).
  #lengthOf = "";
  #topicLength = 0;

  constructor(options: OutboxOptions = {}) {
    const maxMessages = options.maxMessages ?? 100;
    const maxBytes = options.maxBytes ?? 32768;
    if (!(maxMessages >= 1) || maxMessages !== Math.floor(maxMessages)) {
      throw new RangeError(`outbox maxMessages must be a whole number >= 1, got ${String(maxMessages)}`);
    }
    if (!(maxBytes >= 64) || maxBytes !== Math.floor(maxBytes)) {
      throw new RangeError(`outbox maxBytes must be a whole number >= 64, got ${String(maxBytes)}`);
    }
    const persistAfter = options.persistAfter ?? 5000;
    if (!(persistAfter >= 0) || !isFinite(persistAfter)) {
      throw new RangeError(`outbox persistAfter must be a number of ms >= 0, got ${String(persistAfter)}`);
    }
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
    this.persistAfter = persistAfter;
    this.storage = options.storage;
    this.warn = options.warn;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Sequence number the next accepted message gets. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** Messages that have a record in storage now. */
  get stored(): number {
    return this.#stored;
  }

  /**
   * Binds the outbox to the client identity it stores messages for, and loads what storage holds for
   * that identity (the session does this once, at its creation). Binding again to another identity throws.
   */
  bind(clientId: string, username: string | undefined): void {
    // MQTT strings never hold U+0000 [MQTT-1.5.3-2]: the separator keeps ("ab","c") apart from ("a","bc").
    const identity = hash32(`${clientId}\u0000${username ?? ""}`);
    if (this.#identity !== undefined) {
      if (identity !== this.#identity) throw new RangeError("outbox: already bound to another client identity");
      return;
    }
    this.#identity = identity;
    this.#persistKnown = false;
    if (this.storage) this.#load(this.storage, identity);
  }

  /**
   * Accepts a message at time `now`, making room by dropping the oldest waiting QoS 0 messages if
   * needed. Returns the entry, or undefined when it does not fit (counted in `refused`, warned).
   * `persistNow` stores it at once (the client is not connected); otherwise it is stored only if it
   * is still here `persistAfter` ms later (see persistDue).
   */
  add(topic: string, payload: Uint8Array, qos: QoS, retain: boolean, now: number, persistNow: boolean): OutboxEntry | undefined {
    this.#persistKnown = false;
    const entry = this.#accept(topic, payload, qos, retain, now);
    if (!entry) return undefined;
    this.entries.push(entry);
    this.bytes += entry.size;
    // While storage fails the message waits in memory; the retry stores it.
    if (persistNow && this.storage && !this.#failing) this.#persist(entry, this.storage);
    return entry;
  }

  /**
   * A QoS 0 message the caller sends at once (nothing queued ahead of it): accepted or refused
   * exactly as add() would, with its sequence number, but never held, so the entry is not pushed
   * only to be removed again in the same turn. Returns the entry (a PUBLISH packet), or undefined.
   */
  pass(topic: string, payload: Uint8Array, retain: boolean, now: number): OutboxEntry | undefined {
    return this.#accept(topic, payload, 0, retain, now);
  }

  /** add()'s checks and the new entry (not yet held): room made by dropping waiting QoS 0 messages if needed. */
  #accept(topic: string, payload: Uint8Array, qos: QoS, retain: boolean, now: number): OutboxEntry | undefined {
    if (this.storage && this.#identity === undefined) throw new RangeError("outbox: bind() before use (the session does)");
    this.#now = now;
    if (topic !== this.#lengthOf) {
      this.#topicLength = utf8Length(topic);
      this.#lengthOf = topic;
    }
    const size = this.#topicLength + payload.length + OVERHEAD;
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
      slot: NOT_STORED,
      size,
      at: now,
    };
    if (this.#nextSeq > 0xffffffff) this.#nextSeq = 1;
    return entry;
  }

  /** Removes the entry at `index` (and its stored record) at time `now` (when known: it times a storage retry). */
  removeAt(index: number, now?: number): OutboxEntry {
    this.#persistKnown = false;
    if (now !== undefined) this.#now = now;
    // Mostly the oldest goes (a QoS 0 message sent at once, the first PUBACK): shift() makes no
    // array of removed elements as splice() does.
    const entries = this.entries;
    const entry = index === 0 ? entries.shift()! : entries.splice(index, 1)[0];
    this.bytes -= entry.size;
    const slot = entry.slot;
    if (slot >= 0) {
      entry.slot = NOT_STORED;
      this.#stored--;
      this.#release(slot);
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
  update(entry: OutboxEntry, now: number): void {
    this.#persistKnown = false;
    this.#now = now;
    const slot = entry.slot;
    if (slot < 0 || !this.storage) return;
    if (!this.#failing && this.#write(this.storage, slot, this.#record(entry))) return;
    // The record no longer tells the truth (and NVS erases before it writes, so it may be gone): it is
    // erased at the retry, and the message stored afresh with its current state.
    entry.slot = NOT_STORED;
    this.#stored--;
    this.#stale.push(slot);
  }

  /**
   * Time has passed (`now`, the session's clock): stores every message that has waited
   * `persistAfter` unacknowledged, and after a storage failure retries what is pending once the
   * retry is due. `all` stores every message held in memory only (the connection dropped, or the
   * client ends).
   */
  persistDue(now: number, all = false): void {
    this.#persistKnown = false;
    this.#now = now;
    const storage = this.storage;
    if (!storage || this.#identity === undefined) return;
    if (this.#failing && now < this.#retryAt) return;
    const stale = this.#stale;
    while (stale.length) {
      const slot = stale[stale.length - 1];
      if (!this.#erase(storage, slot)) return;
      stale.pop();
      this.#free.push(slot);
    }
    const due = now - this.persistAfter;
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.slot !== NOT_STORED) continue;
      if (!all && e.at > due) return; // acceptance order: the rest are younger
      if (!this.#persist(e, storage)) return;
    }
  }

  /** When persistDue has work next (the session's clock, ms), or -1 for never. */
  nextPersist(): number {
    // Asked after every event the session handles; the answer moves only when add, removeAt,
    // update, persistDue or bind changed the entries, their slots or the storage state.
    if (this.#persistKnown) return this.#persistAt;
    this.#persistKnown = true;
    return (this.#persistAt = this.#computeNextPersist());
  }

  #computeNextPersist(): number {
    if (!this.storage || this.#identity === undefined) return -1;
    let next = this.#stale.length ? this.#retryAt : -1;
    if (this.#free.length || this.#stale.length) {
      const entries = this.entries;
      for (let i = 0; i < entries.length; i++) {
        if (entries[i].slot !== NOT_STORED) continue;
        let at = entries[i].at + this.persistAfter;
        if (this.#failing && at < this.#retryAt) at = this.#retryAt;
        if (next < 0 || at < next) next = at;
        break;
      }
    }
    return next;
  }

  /** Stores one entry. False when storage failed (the caller stops: the retry resumes). */
  #persist(entry: OutboxEntry, storage: OutboxStorage): boolean {
    if (RECORD_HEADER + entry.size - OVERHEAD > storage.maxRecordSize) {
      entry.slot = UNSTORABLE;
      this.warn?.(
        `outbox: message too large to persist, kept in memory only seq=${entry.seq} bytes=${entry.size} max=${storage.maxRecordSize}`,
      );
      return true;
    }
    const slot = this.#free.pop();
    if (slot === undefined) {
      // Every slot holds a message: this one waits in memory until a slot frees.
      if ((++this.#noSlot & (this.#noSlot - 1)) === 0) {
        this.warn?.(`outbox: no free storage slot, kept in memory only seq=${entry.seq} times=${this.#noSlot}`);
      }
      return false;
    }
    if (!this.#write(storage, slot, this.#record(entry))) {
      this.#stale.push(slot); // a failed NVS set may leave anything behind
      return false;
    }
    entry.slot = slot;
    this.#stored++;
    return true;
  }

  /** A slot whose message is gone: erase its record now, or at the retry while storage fails. */
  #release(slot: number): void {
    const storage = this.storage!;
    if (!this.#failing && this.#erase(storage, slot)) this.#free.push(slot);
    else this.#stale.push(slot);
  }

  #write(storage: OutboxStorage, slot: number, record: ArrayBuffer): boolean {
    try {
      storage.write(slot, record);
    } catch (error) {
      this.#failed("write", slot, error);
      return false;
    }
    this.#worked();
    return true;
  }

  #erase(storage: OutboxStorage, slot: number): boolean {
    try {
      storage.remove(slot);
    } catch (error) {
      this.#failed("erase", slot, error);
      return false;
    }
    this.#worked();
    return true;
  }

  #failed(what: string, slot: number, error: unknown): void {
    this.storageFailures++;
    const n = ++this.#failuresInRow;
    const delay = this.#retryDelay;
    this.#failing = true;
    this.#retryAt = this.#now + delay;
    this.#retryDelay = delay * 2 < RETRY_MAX ? delay * 2 : RETRY_MAX;
    // A failing flash fails every call: 1st, 2nd, 4th, 8th ... in a row are enough to see it.
    if ((n & (n - 1)) === 0) {
      this.warn?.(
        `outbox: storage ${what} failed, messages kept in memory, retry in ${delay} ms slot=${slot} failures=${n} error=${String(error)}`,
      );
    }
  }

  #worked(): void {
    if (this.#failuresInRow === 0) return;
    this.warn?.(`outbox: storage works again after ${this.#failuresInRow} failures`);
    this.#failuresInRow = 0;
    this.#failing = false;
    this.#retryDelay = RETRY_MIN;
  }

  #record(entry: OutboxEntry): ArrayBuffer {
    const topicLength = entry.size - entry.payload.length - OVERHEAD;
    const bytes = new Uint8Array(RECORD_HEADER + topicLength + entry.payload.length);
    bytes[0] = FORMAT | entry.qos | (entry.retain ? 4 : 0) | (entry.state << 3);
    const seq = entry.seq;
    bytes[1] = (seq >>> 24) & 0xff;
    bytes[2] = (seq >>> 16) & 0xff;
    bytes[3] = (seq >>> 8) & 0xff;
    bytes[4] = seq & 0xff;
    const id = entry.messageId ?? 0;
    bytes[5] = id >> 8;
    bytes[6] = id & 0xff;
    const identity = this.#identity!;
    bytes[7] = (identity >>> 24) & 0xff;
    bytes[8] = (identity >>> 16) & 0xff;
    bytes[9] = (identity >>> 8) & 0xff;
    bytes[10] = identity & 0xff;
    bytes[11] = topicLength >> 8;
    bytes[12] = topicLength & 0xff;
    utf8Write(entry.topic, bytes, RECORD_HEADER);
    bytes.set(entry.payload, RECORD_HEADER + topicLength);
    return bytes.buffer;
  }

  #load(storage: OutboxStorage, identity: number): void {
    const slots = storage.slots;
    let maxSeq = 0;
    const loaded: OutboxEntry[] = [];
    for (let slot = slots - 1; slot >= 0; slot--) {
      let record: ArrayBuffer | undefined;
      try {
        record = storage.read(slot);
      } catch {
        record = undefined; // unreadable: the slot is reused, and a write replaces whatever is there
      }
      if (record === undefined) {
        this.#free.push(slot);
        continue;
      }
      if (!(record instanceof ArrayBuffer) || record.byteLength < RECORD_HEADER) {
        this.#corrupt(slot);
        continue;
      }
      const bytes = new Uint8Array(record);
      const flags = bytes[0];
      const madeFor = (((bytes[7] << 24) >>> 0) + (bytes[8] << 16) + (bytes[9] << 8) + bytes[10]) >>> 0;
      if ((flags & FORMAT) === 0 || madeFor !== identity) {
        this.foreign++;
        this.#release(slot);
        continue;
      }
      const rawQos = flags & 3;
      const state = (flags >> 3) & 3;
      const seq = ((bytes[1] << 24) >>> 0) + (bytes[2] << 16) + (bytes[3] << 8) + bytes[4];
      const id = (bytes[5] << 8) | bytes[6];
      const topicLength = (bytes[11] << 8) | bytes[12];
      if (rawQos === 3 || state > RELEASED || (flags & 0x60) !== 0 || seq === 0 || RECORD_HEADER + topicLength > bytes.length) {
        this.#corrupt(slot);
        continue;
      }
      let topic: string;
      try {
        topic = utf8Decode(bytes, RECORD_HEADER, RECORD_HEADER + topicLength);
      } catch {
        this.#corrupt(slot);
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
        at: this.#now,
      });
      if (seq > maxSeq) maxSeq = seq;
    }
    if (this.foreign) {
      this.warn?.(`outbox: stored messages made for another device identity dropped count=${this.foreign}`);
    }
    loaded.sort((a, b) => a.seq - b.seq);
    for (const entry of loaded) {
      if (this.entries.length >= this.maxMessages || this.bytes + entry.size > this.maxBytes) {
        // Limits shrank since the records were written: keep what fits, oldest first.
        this.#release(entry.slot);
        this.dropped++;
        this.warn?.(`outbox: stored message beyond the limits dropped seq=${entry.seq}`);
        continue;
      }
      this.entries.push(entry);
      this.bytes += entry.size;
      this.#stored++;
    }
    this.#nextSeq = maxSeq + 1 > 0xffffffff ? 1 : maxSeq + 1;
  }

  #corrupt(slot: number): void {
    this.#release(slot);
    this.warn?.(`outbox: corrupt stored message discarded slot=${slot}`);
  }
}
