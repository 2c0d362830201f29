// A simulated I2C bus at transaction level: the master (our `embedded:io/i2c` shim) addresses a target
// and either writes bytes or reads a count of bytes; the target acknowledges or not. Register-level
// chip models (aht20.ts, sht3x.ts, bmp280.ts) sit on it. Written like firmware (no Node API): it runs
// in the Node lane and inside XS.

/** A device on the bus. Returning false / undefined means the device did not acknowledge (NACK). */
export interface I2CTarget {
  /** The master wrote `bytes` (possibly none: a probe) after addressing this device. */
  write(bytes: Uint8Array, stop: boolean): boolean;
  /** The master reads `count` bytes. */
  read(count: number, stop: boolean): Uint8Array | undefined;
}

export interface BusStats {
  writes: number;
  reads: number;
  nacks: number;
}

export class SimI2CBus {
  readonly data: number;
  readonly clock: number;
  readonly #targets = new Map<number, I2CTarget>();
  readonly stats: BusStats = { writes: 0, reads: 0, nacks: 0 };

  constructor(data: number, clock: number) {
    this.data = data;
    this.clock = clock;
  }

  attach(address: number, target: I2CTarget): void {
    if (!(address >= 0 && address <= 0x7f)) throw new RangeError(`i2c: invalid address ${address}`);
    this.#targets.set(address, target);
  }

  detach(address: number): void {
    this.#targets.delete(address);
  }

  target(address: number): I2CTarget | undefined {
    return this.#targets.get(address);
  }

  addresses(): number[] {
    return [...this.#targets.keys()].sort((a, b) => a - b);
  }

  /** True when the addressed device acknowledged every byte. */
  write(address: number, bytes: Uint8Array, stop: boolean): boolean {
    this.stats.writes++;
    const target = this.#targets.get(address);
    const ack = target !== undefined && target.write(bytes, stop);
    if (!ack) this.stats.nacks++;
    return ack;
  }

  /** The bytes read, or undefined when the address was not acknowledged. */
  read(address: number, count: number, stop: boolean): Uint8Array | undefined {
    this.stats.reads++;
    const target = this.#targets.get(address);
    const bytes = target?.read(count, stop);
    if (bytes === undefined) this.stats.nacks++;
    return bytes;
  }
}

/** Fault injection shared by the chip models. */
export interface Faults {
  /** The chip acknowledges nothing (a bus fault, a wrong address strap, a dead chip). */
  nack: boolean;
  /** Replies carry a wrong CRC: a count of replies still to corrupt (Infinity = until cleared). */
  badCrc: number;
  /** A started measurement never completes (busy / measuring bit stuck, or read NACKed for SHT3x). */
  stuckBusy: boolean;
}

/**
 * Base of the chip models: power (plug/unplug), fault switches, the clock. An unplugged chip
 * acknowledges nothing; plugging it back is a power-on, so it comes back in its reset state.
 */
export abstract class SimChip implements I2CTarget {
  readonly name: string;
  readonly faults: Faults = { nack: false, badCrc: 0, stuckBusy: false };
  #plugged = true;
  protected readonly now: () => number;

  constructor(name: string, now: () => number) {
    this.name = name;
    this.now = now;
  }

  get plugged(): boolean {
    return this.#plugged;
  }

  unplug(): void {
    this.#plugged = false;
  }

  plug(): void {
    if (!this.#plugged) {
      this.#plugged = true;
      this.powerOn();
    }
  }

  clearFaults(): void {
    this.faults.nack = false;
    this.faults.badCrc = 0;
    this.faults.stuckBusy = false;
  }

  write(bytes: Uint8Array, stop: boolean): boolean {
    if (!this.#plugged || this.faults.nack) return false;
    return this.onWrite(bytes, stop);
  }

  read(count: number, stop: boolean): Uint8Array | undefined {
    if (!this.#plugged || this.faults.nack) return undefined;
    return this.onRead(count, stop);
  }

  /** Consumes one "bad CRC" token; true when this reply must carry a wrong CRC. */
  protected corruptCrc(): boolean {
    if (this.faults.badCrc <= 0) return false;
    this.faults.badCrc--;
    return true;
  }

  /**
   * Applies a control command: "nack", "bad-crc [n]", "stuck-busy", "unplug", "plug", "clear"
   * (all faults off, plugged), "status". Returns a one-line state description.
   */
  command(arg: string): string {
    const words = arg.trim().split(/\s+/);
    switch (words[0]) {
      case "nack":
        this.faults.nack = true;
        break;
      case "bad-crc": {
        const n = words.length > 1 ? Number(words[1]) : Infinity;
        if (!(n > 0)) throw new RangeError(`${this.name}: bad-crc count must be positive`);
        this.faults.badCrc = n;
        break;
      }
      case "stuck-busy":
        this.faults.stuckBusy = true;
        break;
      case "unplug":
        this.unplug();
        break;
      case "plug":
        this.plug();
        break;
      case "clear":
      case "ok":
        this.clearFaults();
        this.plug();
        break;
      case "status":
      case "":
        break;
      default:
        throw new RangeError(`${this.name}: unknown command "${arg}" (nack, bad-crc [n], stuck-busy, unplug, plug, clear, status)`);
    }
    return this.describe();
  }

  describe(): string {
    const f = this.faults;
    return `${this.name} plugged=${this.#plugged} nack=${f.nack} badCrc=${f.badCrc} stuckBusy=${f.stuckBusy}`;
  }

  protected abstract onWrite(bytes: Uint8Array, stop: boolean): boolean;
  protected abstract onRead(count: number, stop: boolean): Uint8Array | undefined;
  /** Back to the power-on state (after plug). */
  protected abstract powerOn(): void;
}

/** CRC-8, polynomial 0x31, init 0xFF (Sensirion / Aosong), written independently of drivers/sensor.ts. */
export function sensirionCrc(a: number, b: number): number {
  let crc = 0xff;
  for (const byte of [a, b]) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = (crc & 0x80 ? (crc << 1) ^ 0x31 : crc << 1) & 0xff;
  }
  return crc;
}

export function crcOver(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0xff;
  for (let j = start; j < end; j++) {
    crc ^= bytes[j];
    for (let i = 0; i < 8; i++) crc = (crc & 0x80 ? (crc << 1) ^ 0x31 : crc << 1) & 0xff;
  }
  return crc;
}
