// The readings ring log: every reading is appended here before anything is sent, and leaves only when
// the platform confirmed it. Pure over a flash interface (ECMA-419 `embedded:storage/flash`: the
// board's own partition, or the simulators' NOR model), so the same code runs everywhere.
//
// Layout: fixed 32-byte records, 128 to a 4 KB block, written in order around the partition. NOR rules
// shape it: a block is erased only when the ring reaches it, each byte is programmed once per lap (the
// record when appended, its last byte, the "done" mark, when the platform confirmed it). Each record
// carries a sequence number and a check over its first 28 bytes, so boot finds head and tail by a scan
// and a write torn by a power cut costs only that record (its check fails; the slot is skipped).
//
//  0 type    1 present bits   2-3 boot   4-7 seq   8-15 time (f64)
//  16-17 temp×100 (i16)  18-19 humi×100 (u16)  20-23 press×100 (u32)  24 rssi (i8)
//  28-29 check   31 mark (0xFF pending, anything else done)
// Clock anchors reuse 16-23 for the uptime (f64) at which `time` was the wall clock.
//
// Readings taken before the wall clock is known carry the boot's number and its uptime; an anchor
// record written when the clock becomes known lets them be re-based, even after a reboot. A boot
// record at every start makes boot numbers strictly increasing (they also seed message ids).

import type { Logger } from "../lib/log";

/** What the log needs of `embedded:storage/flash`. */
export interface FlashLike {
  read(buffer: ArrayBuffer | ArrayBufferView, byteOffset: number): number;
  write(buffer: ArrayBuffer | ArrayBufferView, byteOffset: number): void;
  eraseBlock(start: number, end?: number): void;
  status(): { readonly size: number; readonly blockLength: number; readonly blocks: number };
}

export const RECORD = 32;
const MARK = 31;
const CHECKED = 28;

const T_TIMED = 0x52;
const T_UNTIMED = 0x55;
const T_ANCHOR = 0x41;
const T_BOOT = 0x42;
const EMPTY = 0xff;

export const HAS_TEMP = 1;
export const HAS_HUMI = 2;
export const HAS_PRESS = 4;
export const HAS_RSSI = 8;

/** One reading as the log keeps it (values in their reported units). */
export interface Reading {
  temp?: number;
  humi?: number;
  press?: number;
  rssi?: number;
}

/** A reading read back: where it is, its wall-clock time (undefined: not known yet), its values. */
export interface StoredReading {
  slot: number;
  seq: number;
  boot: number;
  /** Epoch ms, or undefined while it cannot be known (yet). */
  time: number | undefined;
  /** True when its time can never be known (an earlier boot without a clock). */
  timeless: boolean;
  present: number;
  temp: number;
  humi: number;
  press: number;
  rssi: number;
}

export function emptyReading(): StoredReading {
  return { slot: -1, seq: 0, boot: 0, time: undefined, timeless: false, present: 0, temp: 0, humi: 0, press: 0, rssi: 0 };
}

interface Anchor {
  boot: number;
  uptime: number;
  epoch: number;
}

/** Anchors of earlier boots kept in RAM (a boot without a clock has none; a few cover any outage). */
const ANCHORS = 8;

export interface RingStats {
  /** Records the log holds at most (one block is always kept erased ahead of the head). */
  readonly capacity: number;
  /** Readings waiting to be confirmed. */
  readonly pending: number;
  /** Pending readings overwritten because the ring was full, since boot. */
  readonly overwritten: number;
  /** Records whose check failed (torn writes, corruption), skipped, since boot. */
  readonly corrupt: number;
  /** Readings whose time can never be known (an earlier boot without a clock), dropped, since boot. */
  readonly timeless: number;
}

/**
 * Check over the first 28 bytes (FNV-1a over their seven 32-bit words): never 0xFFFF, so an erased
 * slot never passes. The words are read through a Uint32Array on the record, in the machine's byte
 * order: the ESP32 and every host the simulator runs on are little-endian, so it equals reading them
 * little-endian, and a record is only ever checked by the device that wrote it. Unrolled: on XS the
 * loop and a DataView call per word cost more than the arithmetic.
 */
function checkOf(w: Uint32Array): number {
  let h = Math.imul(0x811c9dc5 ^ w[0], 0x01000193);
  h = Math.imul(h ^ w[1], 0x01000193);
  h = Math.imul(h ^ w[2], 0x01000193);
  h = Math.imul(h ^ w[3], 0x01000193);
  h = Math.imul(h ^ w[4], 0x01000193);
  h = Math.imul(h ^ w[5], 0x01000193);
  h = Math.imul(h ^ w[6], 0x01000193);
  const c = (h ^ (h >>> 16)) & 0xffff;
  return c === 0xffff ? 0xfffe : c;
}

export interface Overwrite {
  /** Pending readings lost. */
  readonly count: number;
  /** Time of the oldest and newest lost (epoch ms, undefined when unknown). */
  readonly from: number | undefined;
  readonly to: number | undefined;
}

export interface RingOptions {
  readonly flash: FlashLike;
  readonly log?: Logger;
  /** Called when pending readings are overwritten (the ring is full): once per block erased with some. */
  readonly onOverwrite?: (lost: Overwrite) => void;
}

export class ReadingLog {
  readonly #flash: FlashLike;
  readonly #log: Logger | undefined;
  readonly #onOverwrite: ((lost: Overwrite) => void) | undefined;
  readonly #slots: number;
  readonly #perBlock: number;
  readonly #rec = new Uint8Array(RECORD);
  readonly #view: DataView;
  /** The record's 32-bit words, for its check. */
  readonly #words: Uint32Array;
  readonly #mark = new Uint8Array(1);
  readonly #block: Uint8Array;
  readonly #anchors: Anchor[] = [];
  /** Next slot to write. */
  #head = 0;
  /** Oldest slot that may be pending (== head when nothing is). */
  #tail = 0;
  #seq = 1;
  #boot = 1;
  #pending = 0;
  #overwritten = 0;
  #corrupt = 0;
  #timeless = 0;
  /** This boot's clock anchor, once known. */
  #anchor: Anchor | undefined;

  constructor(options: RingOptions) {
    this.#flash = options.flash;
    this.#log = options.log;
    this.#onOverwrite = options.onOverwrite;
    const s = options.flash.status();
    if (s.blockLength % RECORD !== 0 || s.blocks < 2) throw new Error(`store: flash of ${s.blocks} blocks of ${s.blockLength} bytes cannot hold a ring`);
    this.#perBlock = s.blockLength / RECORD;
    this.#slots = s.blocks * this.#perBlock;
    this.#view = new DataView(this.#rec.buffer);
    this.#words = new Uint32Array(this.#rec.buffer);
    this.#block = new Uint8Array(s.blockLength);
    this.#recover();
  }

  /** This boot's number (strictly increasing across boots). */
  get boot(): number {
    return this.#boot;
  }

  get pending(): number {
    return this.#pending;
  }

  get stats(): RingStats {
    return {
      capacity: this.#slots - this.#perBlock,
      pending: this.#pending,
      overwritten: this.#overwritten,
      corrupt: this.#corrupt,
      timeless: this.#timeless,
    };
  }

  /**
   * Appends a reading taken at `uptime` (ms since this boot); `epoch` is the wall clock then, or
   * undefined when not known. Returns its slot.
   */
  append(r: Reading, uptime: number, epoch: number | undefined): number {
    const v = this.#view;
    this.#rec.fill(EMPTY);
    let present = 0;
    if (r.temp !== undefined) {
      present |= HAS_TEMP;
      v.setInt16(16, Math.round(r.temp * 100), true);
    }
    if (r.humi !== undefined) {
      present |= HAS_HUMI;
      v.setUint16(18, Math.round(r.humi * 100), true);
    }
    if (r.press !== undefined) {
      present |= HAS_PRESS;
      v.setUint32(20, Math.round(r.press * 100), true);
    }
    if (r.rssi !== undefined) {
      present |= HAS_RSSI;
      v.setInt8(24, Math.round(r.rssi));
    }
    v.setUint8(1, present);
    if (epoch !== undefined) {
      v.setUint8(0, T_TIMED);
      v.setFloat64(8, Math.floor(epoch), true);
    } else {
      v.setUint8(0, T_UNTIMED);
      v.setFloat64(8, Math.floor(uptime), true);
    }
    const slot = this.#write(false);
    if (this.#pending++ === 0) this.#tail = slot;
    return slot;
  }

  /**
   * The wall clock became known: `epoch` at `uptime`. Stored once per boot, so readings taken before
   * it (this boot's) can be re-based, also after a reboot.
   */
  setClock(uptime: number, epoch: number): void {
    if (this.#anchor !== undefined) return;
    const v = this.#view;
    this.#rec.fill(EMPTY);
    v.setUint8(0, T_ANCHOR);
    v.setFloat64(8, Math.floor(epoch), true);
    v.setFloat64(16, uptime, true);
    this.#anchor = { boot: this.#boot, uptime, epoch: Math.floor(epoch) };
    this.#write(true);
  }

  /** Marks the reading at `slot` confirmed: it leaves the log. */
  done(slot: number): void {
    if (!this.#isPending(slot)) return;
    this.#mark[0] = 0;
    this.#flash.write(this.#mark, slot * RECORD + MARK);
    this.#pending--;
    if (slot === this.#tail) this.#advanceTail();
  }

  /**
   * Reads pending readings in log order into `into` (from the tail, skipping slots `skip` answers true
   * for), at most `into.length`; stops early at a reading of this boot whose time is not known yet, or
   * once `fits` says no more room. Readings whose time can never be known are marked done here
   * (counted and logged, never sent). Returns how many were read.
   */
  read(into: StoredReading[], skip: (slot: number) => boolean, fits: (r: StoredReading, n: number) => boolean): number {
    let n = 0;
    let slot = this.#tail;
    let dropped = 0;
    while (this.#pending > 0 && slot !== this.#head && n < into.length) {
      const at = slot;
      slot = this.#next(slot);
      if (!this.#isPending(at) || skip(at)) continue;
      const r = into[n];
      this.#decode(at, r);
      if (r.timeless) {
        this.done(at);
        this.#timeless++;
        dropped++;
        continue;
      }
      if (r.time === undefined || !fits(r, n)) break;
      n++;
    }
    if (dropped > 0) {
      this.#log?.log("WARN", "store", "readings dropped: taken offline in an earlier boot that never learned the time", { count: dropped, total: this.#timeless });
    }
    return n;
  }

  /** Decodes the reading at `slot` into `r` (undefined time when not known yet). */
  #decode(slot: number, r: StoredReading): void {
    const v = this.#view;
    const boot = v.getUint16(2, true);
    r.slot = slot;
    r.seq = v.getUint32(4, true);
    r.boot = boot;
    r.present = v.getUint8(1);
    r.temp = v.getInt16(16, true) / 100;
    r.humi = v.getUint16(18, true) / 100;
    r.press = v.getUint32(20, true) / 100;
    r.rssi = v.getInt8(24);
    r.timeless = false;
    const t = v.getFloat64(8, true);
    if (v.getUint8(0) === T_TIMED) {
      r.time = t;
      return;
    }
    r.time = undefined;
    const a = boot === this.#boot ? this.#anchor : this.#anchorOf(boot);
    if (a !== undefined) r.time = a.epoch - (a.uptime - t);
    else if (boot !== this.#boot) r.timeless = true;
  }

  /** Decodes the pending reading at `slot` into `r`; false when the slot holds none. */
  get(slot: number, r: StoredReading): boolean {
    if (!this.#isPending(slot)) return false;
    this.#decode(slot, r);
    return true;
  }

  /** Wall-clock time of the oldest pending reading, when known. */
  oldestTime(): number | undefined {
    if (this.#pending === 0) return undefined;
    const r = emptyReading();
    if (!this.#isPending(this.#tail)) return undefined;
    this.#decode(this.#tail, r);
    return r.time;
  }

  #anchorOf(boot: number): Anchor | undefined {
    const anchors = this.#anchors;
    for (let i = 0; i < anchors.length; i++) if (anchors[i].boot === boot) return anchors[i];
    return undefined;
  }

  #next(slot: number): number {
    return slot + 1 === this.#slots ? 0 : slot + 1;
  }

  /** Reads the record at `slot` into #rec; true when it is an intact reading not yet confirmed. */
  #isPending(slot: number): boolean {
    this.#flash.read(this.#rec, slot * RECORD);
    const t = this.#rec[0];
    if (t !== T_TIMED && t !== T_UNTIMED) return false;
    return this.#rec[MARK] === EMPTY && this.#view.getUint16(CHECKED, true) === checkOf(this.#words);
  }

  #advanceTail(): void {
    let slot = this.#tail;
    while (this.#pending > 0 && slot !== this.#head && !this.#isPending(slot)) slot = this.#next(slot);
    this.#tail = this.#pending > 0 ? slot : this.#head;
  }

  /** Writes #rec (type and payload filled) at the head, erasing the block ahead when the ring reaches it. */
  #write(done: boolean): number {
    const slot = this.#head;
    if (slot % this.#perBlock === 0) this.#erase(slot / this.#perBlock);
    const v = this.#view;
    v.setUint16(2, this.#boot, true);
    v.setUint32(4, this.#seq, true);
    v.setUint16(CHECKED, checkOf(this.#words), true);
    if (done) this.#rec[MARK] = 0;
    // The head moves first: a write that fails part-way leaves a slot that fails its check, skipped.
    this.#head = this.#next(slot);
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    this.#flash.write(this.#rec, slot * RECORD);
    return slot;
  }

  /** Erases `block` for the head, counting pending readings it held (the ring was full). */
  #erase(block: number): void {
    const first = block * this.#perBlock;
    const last = first + this.#perBlock;
    let lost = 0;
    let from: number | undefined;
    let to: number | undefined;
    // The record about to be written is in #rec, which the scan below reuses.
    const saved = this.#rec.slice();
    if (this.#pending > 0) {
      const r = emptyReading();
      for (let slot = first; slot < last; slot++) {
        if (!this.#isPending(slot)) continue;
        this.#decode(slot, r);
        lost++;
        if (r.time !== undefined) {
          from ??= r.time;
          to = r.time;
        }
      }
    }
    this.#flash.eraseBlock(block);
    if (lost > 0) {
      this.#pending -= lost;
      this.#overwritten += lost;
      const tailBlock = Math.floor(this.#tail / this.#perBlock);
      if (tailBlock === block) {
        this.#tail = last === this.#slots ? 0 : last;
        if (this.#pending > 0) this.#advanceTail();
        else this.#tail = this.#head;
      }
    }
    this.#rec.set(saved);
    if (lost > 0) this.#onOverwrite?.({ count: lost, from, to });
  }

  /**
   * Boot: finds the head (the intact record with the highest sequence number), the oldest pending
   * reading, the clock anchors, and the last boot's number; counts pending readings. A block the
   * head had started to erase (power lost part-way) is erased again before it is written.
   */
  #recover(): void {
    const flash = this.#flash;
    const per = this.#perBlock;
    const blocks = this.#slots / per;
    const buf = this.#block;
    const rec = this.#rec;
    const v = this.#view;
    let bestSeq = -1;
    let bestSlot = -1;
    let lastBoot = 0;
    // First pass: the head.
    for (let b = 0; b < blocks; b++) {
      flash.read(buf, b * buf.length);
      for (let i = 0; i < per; i++) {
        const t = buf[i * RECORD];
        if (t === EMPTY) continue;
        rec.set(buf.subarray(i * RECORD, (i + 1) * RECORD));
        if (v.getUint16(CHECKED, true) !== checkOf(this.#words)) continue;
        const seq = v.getUint32(4, true);
        const boot = v.getUint16(2, true);
        if (boot > lastBoot) lastBoot = boot;
        if (bestSeq < 0 || ((seq - bestSeq) | 0) > 0) {
          bestSeq = seq;
          bestSlot = b * per + i;
        }
        if (t === T_ANCHOR) this.#keepAnchor({ boot, epoch: v.getFloat64(8, true), uptime: v.getFloat64(16, true) });
      }
    }
    this.#boot = (lastBoot + 1) & 0xffff || 1;
    if (bestSlot < 0) {
      this.#head = 0;
      this.#tail = 0;
    } else {
      this.#seq = (bestSeq + 1) >>> 0 || 1;
      // The slot after the newest intact record; past any torn record right after it.
      let head = this.#next(bestSlot);
      while (head % per !== 0 && !this.#slotErased(head)) {
        this.#corrupt++;
        head = this.#next(head);
      }
      this.#head = head;
      // Second pass, oldest first: pending readings. At a block boundary the head's block holds the
      // oldest lap (next to be erased); inside a block, the slots before the head are the newest.
      const headBlock = Math.floor(head / per);
      const within = head % per;
      const start = within === 0 ? headBlock : headBlock + 1;
      let tail = -1;
      for (let k = 0; k < blocks; k++) {
        const b = (start + k) % blocks;
        flash.read(buf, b * buf.length);
        const end = b === headBlock && within !== 0 ? within : per;
        for (let i = 0; i < end; i++) {
          const t = buf[i * RECORD];
          if (t === EMPTY) continue;
          rec.set(buf.subarray(i * RECORD, (i + 1) * RECORD));
          if (v.getUint16(CHECKED, true) !== checkOf(this.#words)) {
            this.#corrupt++;
            continue;
          }
          if ((t === T_TIMED || t === T_UNTIMED) && rec[MARK] === EMPTY) {
            if (tail < 0) tail = b * per + i;
            this.#pending++;
          }
        }
      }
      this.#tail = tail < 0 ? head : tail;
    }
    // A record written into the head's block before the cut must not be mistaken for old data: the
    // head's block is erased on entry (slot % per === 0), and a partly erased one is redone here.
    if (this.#head % per !== 0 && !this.#restErased()) {
      const b = Math.floor(this.#head / per);
      this.#log?.log("WARN", "store", "head block not clean after a power cut: moving on", { block: b });
      this.#head = (b + 1) * per === this.#slots ? 0 : (b + 1) * per;
    }
    // A boot record: boot numbers stay strictly increasing even across boots that take no reading.
    this.#rec.fill(EMPTY);
    v.setUint8(0, T_BOOT);
    this.#write(true);
    this.#log?.log("INFO", "store", "readings log", { boot: this.#boot, pending: this.#pending, capacity: this.#slots - per, corrupt: this.#corrupt || undefined });
  }

  #keepAnchor(a: Anchor): void {
    const anchors = this.#anchors;
    anchors.push(a);
    if (anchors.length > ANCHORS) {
      let oldest = 0;
      for (let i = 1; i < anchors.length; i++) if (anchors[i].boot < anchors[oldest].boot) oldest = i;
      anchors.splice(oldest, 1);
    }
  }

  #slotErased(slot: number): boolean {
    this.#flash.read(this.#rec, slot * RECORD);
    for (let i = 0; i < RECORD; i++) if (this.#rec[i] !== EMPTY) return false;
    return true;
  }

  /** True when every slot from the head to the end of its block is erased. */
  #restErased(): boolean {
    const end = (Math.floor(this.#head / this.#perBlock) + 1) * this.#perBlock;
    for (let slot = this.#head; slot < end; slot++) if (!this.#slotErased(slot)) return false;
    return true;
  }
}
