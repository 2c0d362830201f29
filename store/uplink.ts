// Store and forward: every reading goes to the readings log (./ring) first; the uplink drains it. The
// newest reading goes out live as a property post (with its own time); the backlog goes out oldest
// first as history posts, each value with its own time. A reading leaves the log only on the
// platform's reply code 200. One history batch is in flight at a time and a batch is handed over only
// when nothing else waits for the uplink slot, so live posts, replies and events keep their place in
// the 1 message/s pacing (onenet/device.ts) while the backlog drains.
//
// A batch whose reply never comes is sent again with the same readings (same values, same times); a
// batch the platform refuses (code other than 200) is logged with the code's meaning and dropped:
// sending the same data again would be refused again.
//
// Batch size: at most 100 values per identifier (the platform's limit) and at most `batchBytes` of
// JSON, whichever comes first. Each value costs ~37 bytes (`{"value":23.45,"time":1767225600000},`),
// so 7.5 KB holds about 57 readings of temp, humi and press: a day at 10 s (8,640 readings) is about
// 152 batches plus the live posts in between, under three minutes at 1 message/s (bench
// store.drain.day; 6 KB batches measured 201 s). It also fits the app's 8 KB MQTT outbox with a small
// QoS 1 post beside it. The batch is written into one preallocated buffer; the MQTT layer copies it
// while it is on its way, so bigger batches would cost heap the board does not have.

import type { Logger } from "../lib/log";
import { HISTORY_MAX_VALUES, historyValueBytes, replyMeaning, type HistorySeries } from "../onenet/payload";
import { emptyReading, HAS_HUMI, HAS_PRESS, HAS_RSSI, HAS_TEMP, type Reading, type ReadingLog, type StoredReading } from "./ring";

/** What the uplink needs of the OneNET device. */
export interface UplinkLink {
  /** True while logged in: posts can go. */
  readonly online: boolean;
  /** Messages waiting for their uplink slot. */
  readonly queued: number;
  /** A live property post of `params` stamped `time` (undefined: the platform stamps it). Returns the id; throws when refused. */
  live(params: { readonly [identifier: string]: unknown }, time: number | undefined): string;
  /** A history post. Returns the id; throws when refused. */
  history(series: readonly HistorySeries[], scratch: Uint8Array): string;
}

export interface UplinkOptions {
  readonly ring: ReadingLog;
  readonly link: UplinkLink;
  readonly log?: Logger;
  /** Largest history payload, bytes. Default BATCH_BYTES. */
  readonly batchBytes?: number;
  /**
   * Asks for pump() on a later turn of the event loop. Replies and login changes arrive deep in the
   * MQTT client's socket callback; building and encoding a batch there overflowed the board's
   * 512-slot stack (seen in the XS lane held to the esp32 creation). Default: pump at once.
   */
  readonly schedule?: () => void;
}

/** Largest history payload by default, bytes (see above). */
export const BATCH_BYTES = 7680;

const IDENTIFIERS = ["temp", "humi", "press", "rssi"] as const;
const BITS = [HAS_TEMP, HAS_HUMI, HAS_PRESS, HAS_RSSI] as const;
/** Live posts awaiting their reply at most (one per reading; replies come within seconds). */
const LIVE_MAX = 8;
/** While a backlog drains: at most one live post in this long (ms). */
export const LIVE_GAP = 10_000;
/** JSON around the values: id, version, the params array, identifiers. */
const ENVELOPE = 160;

export class Uplink {
  readonly #ring: ReadingLog;
  readonly #link: UplinkLink;
  readonly #log: Logger | undefined;
  readonly #schedule: (() => void) | undefined;
  /** A batch in flight must go again (same readings) at the next pump: its reply was lost or the link went. */
  #resend = false;
  readonly #batchBytes: number;
  readonly #scratch: Uint8Array;
  readonly #readings: StoredReading[] = [];
  readonly #series: HistorySeries[] = [];
  /** Slots of the history batch in flight (count = #batchCount), in log order. */
  readonly #batchSlots = new Int32Array(HISTORY_MAX_VALUES);
  #batchCount = 0;
  #batchId = "";
  readonly #liveIds: string[] = [];
  readonly #liveSlots: number[] = [];
  /**
   * Slots the platform confirmed whose log mark is still to be cleared (count = #doneCount): a reply
   * arrives at the bottom of the MQTT client's socket callback (under TLS the SDK's SecureSocket adds
   * its own frames there), and the flash write of ring.done() on top of that was part of a depth that
   * overflowed the board's 512-slot stack (seen in the XS lane over TLS), so it waits for the pump. Which reading a
   * reply settles is decided at once, so a reconnect in between cannot send it again.
   */
  readonly #doneSlots = new Int32Array(LIVE_MAX + HISTORY_MAX_VALUES);
  #doneCount = 0;
  #bytes = 0;
  #lastLive = -Infinity;
  readonly #skip = (slot: number): boolean => this.#liveSlots.indexOf(slot) >= 0;
  readonly #fits = (r: StoredReading, n: number): boolean => {
    let bytes = n === 0 ? ENVELOPE : this.#bytes;
    for (let i = 0; i < BITS.length; i++) if (r.present & BITS[i]) bytes += historyValueBytes(valueOf(r, i), r.time!);
    if (n > 0 && bytes > this.#batchBytes) return false;
    this.#bytes = bytes;
    return true;
  };

  /** Counters for the status line and tests. */
  readonly stats = { live: 0, batches: 0, resent: 0, backfilled: 0, refused: 0 };

  constructor(options: UplinkOptions) {
    this.#ring = options.ring;
    this.#link = options.link;
    this.#log = options.log;
    this.#schedule = options.schedule;
    this.#batchBytes = options.batchBytes ?? BATCH_BYTES;
    this.#scratch = new Uint8Array(this.#batchBytes + 256);
    for (let i = 0; i < HISTORY_MAX_VALUES; i++) this.#readings.push(emptyReading());
    for (let i = 0; i < IDENTIFIERS.length; i++) {
      this.#series.push({ identifier: IDENTIFIERS[i], count: 0, values: new Float64Array(HISTORY_MAX_VALUES), times: new Float64Array(HISTORY_MAX_VALUES) });
    }
  }

  /** Readings in the log not yet confirmed by the platform, in-flight live posts included. */
  get backlog(): number {
    return this.#ring.pending - this.#doneCount;
  }

  /**
   * Readings still to upload: the backlog less the live posts awaiting their reply. What the user
   * means by "backlog": 0 while the device keeps up, even at a 1 s interval with a reply in flight.
   */
  get waiting(): number {
    const n = this.#ring.pending - this.#doneCount - this.#liveIds.length;
    return n > 0 ? n : 0;
  }

  /**
   * A new reading: into the log, then live when online (returns the live post's id, else ""). `params`
   * is the whole report (the log keeps the sensor values; board figures such as heap go live only).
   */
  reading(params: Reading & { readonly [identifier: string]: unknown }, uptime: number, epoch: number | undefined): string {
    this.#settle();
    const slot = this.#ring.append(params, uptime, epoch);
    const link = this.#link;
    let id = "";
    // While a backlog drains, live posts thin out to one per LIVE_GAP so that history gets most of
    // the 1 message/s uplink (a device reporting every second would otherwise never catch up).
    const pending = this.#ring.pending; // unchanged below: replies only note slots (#settle marks them)
    const backlog = pending - 1 - this.#liveIds.length > 0;
    if (link.online && this.#liveIds.length < LIVE_MAX && (!backlog || uptime - this.#lastLive >= LIVE_GAP)) {
      this.#lastLive = uptime;
      try {
        id = link.live(params, epoch);
        this.#liveIds.push(id);
        this.#liveSlots.push(slot);
        this.stats.live++;
      } catch (e) {
        // kept in the log: the history sends it
        this.#log?.log("WARN", "store", "live post not queued", { error: (e as Error).message });
      }
    }
    // The next batch goes from the scheduler's turn, not from under the report: built and written
    // here it reached the socket's write 370 slots deep, and the SDK's TLS write runs below that
    // (an overflow of the board's 512-slot stack in the XS lane, a TLS drain after an outage).
    // No turn when that pump could only return (the usual case: every pending reading is a live post
    // awaiting its reply, and the marks were settled above); a turn of the event loop costs more
    // than the whole report's store work.
    if (this.#resend || pending > this.#liveSlots.length) this.#kick();
    return id;
  }

  /** Hands the next history batch over when the uplink is free. */
  pump(): void {
    this.#settle();
    const link = this.#link;
    if (this.#resend && this.#batchCount > 0) {
      if (!link.online) return;
      this.#resend = false;
      this.#send();
      return;
    }
    // Nothing to read when every pending reading is a live post awaiting its reply, the usual case
    // between two readings: reading the log would only skip them (a flash read and check each). Were
    // a live post's reading overwritten meanwhile (the ring full), its reply or timeout pumps again.
    if (!link.online || this.#batchCount > 0 || link.queued > 0 || this.#ring.pending <= this.#liveSlots.length) return;
    const readings = this.#readings;
    const n = this.#ring.read(readings, this.#skip, this.#fits);
    if (n === 0) return;
    for (let i = 0; i < n; i++) this.#batchSlots[i] = readings[i].slot;
    this.#batchCount = n;
    this.#send();
  }

  /** The platform's reply to a post (any kind). */
  onReply(id: string, code: number): void {
    const live = this.#liveIds.indexOf(id);
    if (live >= 0) {
      const slot = this.#liveSlots[live];
      this.#liveIds.splice(live, 1);
      this.#liveSlots.splice(live, 1);
      if (code !== 200) this.#refused("live reading", id, code, 1);
      this.#doneSlots[this.#doneCount++] = slot;
    } else if (id === this.#batchId && this.#batchCount > 0) {
      const count = this.#batchCount;
      this.#batchCount = 0;
      this.#batchId = "";
      if (code === 200) this.stats.backfilled += count;
      else this.#refused("history batch", id, code, count);
      for (let i = 0; i < count; i++) this.#doneSlots[this.#doneCount++] = this.#batchSlots[i];
    }
    // inlined #kick(): this runs at the bottom of the socket callback, where every frame counts
    if (this.#schedule !== undefined) this.#schedule();
    else this.pump();
  }

  /** Clears the log marks of the readings replies confirmed (see #doneSlots). */
  #settle(): void {
    const n = this.#doneCount;
    this.#doneCount = 0;
    for (let i = 0; i < n; i++) this.#ring.done(this.#doneSlots[i]);
  }

  /** pump() now, or on a later turn when the owner schedules it. */
  #kick(): void {
    if (this.#schedule !== undefined) this.#schedule();
    else this.pump();
  }

  /** A post's reply did not come: a batch goes again (same readings); a live reading is left to history. */
  onMissing(id: string): void {
    const live = this.#liveIds.indexOf(id);
    if (live >= 0) {
      this.#liveIds.splice(live, 1);
      this.#liveSlots.splice(live, 1);
    } else if (id === this.#batchId && this.#batchCount > 0) {
      this.stats.resent++;
      this.#log?.log("WARN", "store", "no reply to a history batch: sending it again", { id, readings: this.#batchCount });
      this.#batchId = "";
      this.#resend = true;
    }
    this.#kick();
  }

  /** Login state: after a reconnect, what was in flight went with the old connection. */
  onOnline(online: boolean): void {
    this.#liveIds.length = 0;
    this.#liveSlots.length = 0;
    if (this.#batchCount > 0) {
      this.#batchId = "";
      this.#resend = true;
    }
    if (online) this.#kick();
  }

  /** Encodes and hands over the batch in #batchSlots (again after a lost reply: same readings, same times). */
  #send(): void {
    const count = this.#batchCount;
    const series = this.#series;
    for (let s = 0; s < series.length; s++) series[s].count = 0;
    const r = this.#readings[0];
    for (let i = 0; i < count; i++) {
      if (!this.#ring.get(this.#batchSlots[i], r) || r.time === undefined) continue;
      for (let s = 0; s < series.length; s++) {
        if (!(r.present & BITS[s])) continue;
        const one = series[s];
        one.values[one.count] = valueOf(r, s);
        one.times[one.count] = r.time;
        one.count++;
      }
    }
    try {
      this.#batchId = this.#link.history(series, this.#scratch);
      this.stats.batches++;
    } catch (e) {
      // The uplink queue is full: the batch is built again on the next pump.
      this.#batchCount = 0;
      this.#batchId = "";
      this.#log?.log("WARN", "store", "history batch not queued", { error: (e as Error).message });
    }
  }

  #refused(what: string, id: string, code: number, count: number): void {
    this.stats.refused += count;
    this.#log?.log("ERROR", "store", `${what} refused by the platform, dropped`, { id, code, meaning: replyMeaning(code), readings: count });
  }
}

function valueOf(r: StoredReading, series: number): number {
  return series === 0 ? r.temp : series === 1 ? r.humi : series === 2 ? r.press : r.rssi;
}
