// The XS lane, host side: bundles firmware (sim/bundle.ts), runs it in an xsnap worker (the real XS
// engine), and bridges the host world into it: clock (real or virtual), TCP (TcpLink), storage
// (Storage, file-backed for reboots), log lines, configuration, named controls, meters.
import { resolve as resolvePath, isAbsolute } from "node:path";
import { RealClock, VirtualClock, settle, type Clock, VIRTUAL_EPOCH } from "./clock.ts";
import { TcpLink } from "./tcp-link.ts";
import { Storage } from "./storage.ts";
import { bundle, firmwareEntry, projectRoot, BUNDLE_NAME, type Bundle } from "./bundle.ts";
import { XsnapWorker, XsError, type Meter } from "./xsnap-worker.ts";
import { readResource } from "./resources.ts";

export interface XsLaneOptions {
  /** Firmware entry module (absolute or relative to the project root). Default "main.ts". */
  entry?: string;
  /** Or: entry module source (resolved relative to the project root), e.g. generated test entries. */
  entryCode?: string;
  /** "virtual" (default): time moves only with advance(). "real": wall time. */
  clock?: "virtual" | "real";
  /** mc/config values. */
  config?: Record<string, string>;
  /** File for preference storage; the same file on the next lane is a reboot with the same flash. */
  storagePath?: string;
  /** Or: share a Storage object between lanes (reboot in memory). */
  storage?: Storage;
  /** Math.random seed (default 1). */
  seed?: number;
  /** Each device log line as it comes. */
  onLog?: (line: string) => void;
  /** Call the entry's default export after loading (Moddable does this for main). Default true. */
  boot?: boolean;
  /** Computron limit per crank (default 1e9). */
  meteringLimit?: number;
  /** Virtual clock epoch (ms since 1970 at boot). */
  epoch?: number;
  /** Reuse an existing bundle (saves esbuild time across reboots). */
  bundle?: Bundle;
}

/** A firmware exception that escaped to the engine (the board would reset). */
export class FirmwareError extends Error {
  /** The XS stack with bundle lines mapped back to the .ts sources. */
  readonly xsStack: string;
  constructor(message: string, stack: string) {
    super(message);
    this.name = "FirmwareError";
    this.xsStack = stack;
  }
}

/**
 * Board budget for "System Free Memory" (bytes). The XS lane reports it minus 16 bytes per heap slot
 * the firmware holds beyond what it held when its modules had loaded (an approximation: the figure
 * falls when the firmware holds more memory or leaks; measured after the lane's periodic GC).
 */
export const SIM_FREE_MEMORY = 100_000;
/** Bytes per XS slot on the ESP32 (32-bit). */
export const SLOT_BYTES = 16;
/** Heap growth (slots) after which the lane collects garbage between events. */
export const GC_SLACK = 2048;

const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);

export class XsLane {
  readonly options: XsLaneOptions;
  readonly clock: Clock;
  readonly link = new TcpLink();
  readonly storage: Storage;
  readonly config: Record<string, string>;
  readonly logs: string[] = [];
  readonly events: Array<{ topic: string; detail: string; at: number }> = [];
  onLog: ((line: string) => void) | undefined;
  /** Set when a firmware exception escaped (the lane stops delivering events). */
  fatal: FirmwareError | undefined;
  /** Meter of the most recent crank, the boot crank(s), and the sum of all computrons. */
  lastMeter: Meter = { compute: 0, currentHeapCount: 0, allocate: 0 };
  bootMeter: Meter = { compute: 0, currentHeapCount: 0, allocate: 0 };
  totalCompute = 0;
  readonly bundle: Bundle;
  #worker: XsnapWorker;
  #output = "";
  #bootHeap = 0;
  #loadHeap = 0;
  #liveHeap = 0;
  #closed = false;

  private constructor(options: XsLaneOptions, b: Bundle) {
    this.options = options;
    this.bundle = b;
    this.clock = options.clock === "real" ? new RealClock() : new VirtualClock(options.epoch ?? VIRTUAL_EPOCH);
    this.storage = options.storage ?? new Storage(options.storagePath);
    this.config = { ...(options.config ?? {}) };
    this.onLog = options.onLog;
    this.clock.bind(() => this.#deliver(["wake"]));
    this.#worker = new XsnapWorker({
      name: "sim",
      meteringLimit: options.meteringLimit,
      onQuery: (request) => this.#onQuery(request),
      onOutput: (text) => {
        this.#output += text;
      },
    });
  }

  /** Bundles the firmware, starts XS, loads and boots it. Throws FirmwareError if boot throws. */
  static async start(options: XsLaneOptions = {}): Promise<XsLane> {
    let b = options.bundle;
    if (b === undefined) {
      let code = options.entryCode;
      if (code === undefined) {
        const entry = options.entry ?? "main.ts";
        code = firmwareEntry(isAbsolute(entry) ? entry : resolvePath(projectRoot, entry));
      }
      b = await bundle(code);
    }
    const lane = new XsLane(options, b);
    try {
      await lane.#load();
    } catch (error) {
      await lane.close();
      throw error;
    }
    return lane;
  }

  /** Diagnostics the engine printed (XS print/stderr). */
  get engineOutput(): string {
    return this.#output;
  }

  async #load(): Promise<void> {
    this.#bootHeap = (await this.#crank(() => this.#worker.evaluate("0"))).currentHeapCount;
    const seed = this.options.seed ?? 1;
    const init = `globalThis.__simInit=[${this.clock.now()},${this.clock.epoch()},${seed}];try{`;
    const code = `${init}${this.bundle.code}\n}catch(e){if(globalThis.__sim)globalThis.__sim.fatal(e);throw e}\n//# sourceURL=${BUNDLE_NAME}\n`;
    const loaded = await this.#crank(() => this.#worker.evaluate(code));
    let compute = loaded.compute;
    this.#loadHeap = await this.#collect();
    if (this.options.boot !== false) {
      const booted = await this.#crank(() => this.#worker.evaluate("globalThis.__sim.boot()"));
      compute += booted.compute;
    }
    this.bootMeter = { ...this.lastMeter, compute };
  }

  async #crank(run: () => Promise<{ meter: Meter; reply: Uint8Array }>): Promise<Meter & { reply: Uint8Array }> {
    try {
      const { meter, reply } = await run();
      this.lastMeter = meter;
      this.totalCompute += meter.compute;
      return { ...meter, reply };
    } catch (error) {
      if (error instanceof XsError) {
        if (this.fatal === undefined) this.fatal = new FirmwareError(error.message, error.message);
        throw this.fatal;
      }
      throw error;
    }
  }

  /**
   * A full collection in its own crank (not counted in totalCompute), like the board's GC when its
   * small heap fills; returns the live slots. The lane runs one whenever the heap grew by GC_SLACK.
   */
  async #collect(): Promise<number> {
    const message = enc.encode(JSON.stringify(["gc", this.clock.now(), this.clock.epoch()]));
    const { meter } = await this.#worker.command(message);
    this.lastMeter = meter;
    this.#liveHeap = meter.currentHeapCount;
    return this.#liveHeap;
  }

  /** Evaluates script code in XS (one crank, after queued events); returns the crank's meter. */
  async evaluate(code: string): Promise<Meter> {
    const { reply: _reply, ...meter } = await this.#evaluateNow(code);
    return meter;
  }

  /** Runs `code` in order with the event deliveries, with XS's view of the clock brought up to date. */
  #evaluateNow(code: string): Promise<Meter & { reply: Uint8Array }> {
    const run = this.#deliveries.then(() =>
      this.#crank(() => this.#worker.evaluate(`globalThis.__sim.clock(${this.clock.now()},${this.clock.epoch()});${code}`)),
    );
    this.#deliveries = run.catch(() => {});
    return run;
  }

  /** Evaluates an expression in XS and returns String(value), with the crank's meter. */
  async query(expression: string): Promise<{ value: string; meter: Meter }> {
    const { reply, ...meter } = await this.#evaluateNow(`globalThis.__sim.reply(String((${expression})))`);
    return { value: dec.decode(reply), meter };
  }

  /** Writes an XS heap snapshot file (diagnostics), in order with the event deliveries. */
  async snapshot(path: string): Promise<number> {
    const run = this.#deliveries.then(() => this.#worker.snapshot(path));
    this.#deliveries = run.catch(() => {});
    return run;
  }

  /** Heap slots of the bare engine before the firmware loaded (xsnap's own built-ins). */
  get baseHeapSlots(): number {
    return this.#bootHeap;
  }

  /** Heap slots in use after a full garbage collection (a command, not an evaluation: costs nothing). */
  async heapSlots(): Promise<number> {
    const run = this.#deliveries.then(() => this.#collect());
    this.#deliveries = run.catch(() => {});
    return run;
  }

  /** Advances the virtual clock by `ms` (timers fire in order) and waits until XS is idle. */
  async advance(ms: number): Promise<void> {
    if (!(this.clock instanceof VirtualClock)) throw new Error("XsLane.advance: the lane runs on the real clock");
    await this.clock.advance(ms);
    await this.idle();
  }

  /** Waits until every event queued so far has been delivered. */
  async idle(): Promise<void> {
    await this.#deliveries;
    await settle();
    await this.#deliveries;
  }

  /**
   * Polls (in real time, for real I/O) until `predicate` holds; throws after `timeoutMs`.
   * Does not move the virtual clock.
   */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (this.fatal) throw this.fatal;
      if (Date.now() > deadline) throw new Error(`XsLane.waitFor: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
      await this.#deliveries;
    }
  }

  /** Invokes an in-lane named control (sim/host.ts `control`) and returns its reply. */
  async control(name: string, arg = ""): Promise<string | undefined> {
    const { reply } = await this.#deliverRaw(["control", name, arg]);
    const parsed = JSON.parse(dec.decode(reply)) as { reply?: string | null; error?: string };
    if (parsed.error !== undefined) throw new Error(parsed.error);
    return parsed.reply ?? undefined;
  }

  /** Stops the engine and drops connections. The storage stays (for a reboot). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.clock.stop();
    this.link.destroyAll();
    await this.#worker.close().catch(() => this.#worker.kill());
  }

  /** Simulated reboot: closes this lane and boots the same firmware with the same storage. */
  async reboot(options: Partial<XsLaneOptions> = {}): Promise<XsLane> {
    await this.close();
    const epoch = this.clock.epoch();
    return XsLane.start({ ...this.options, epoch, ...options, storage: this.storage, bundle: this.bundle });
  }

  #deliveries: Promise<unknown> = Promise.resolve();

  #deliver(header: unknown[], payload?: Uint8Array): Promise<void> {
    const p = this.#deliverRaw(header, payload).then(
      () => {},
      () => {},
    );
    return p;
  }

  #deliverRaw(header: unknown[], payload?: Uint8Array): Promise<{ reply: Uint8Array }> {
    const run = this.#deliveries.then(async () => {
      if (this.#closed || this.fatal) return { reply: EMPTY };
      const [kind, ...rest] = header;
      const head = enc.encode(JSON.stringify([kind, this.clock.now(), this.clock.epoch(), ...rest]));
      let message = head;
      if (payload !== undefined) {
        message = new Uint8Array(head.length + 1 + payload.length);
        message.set(head, 0);
        message[head.length] = 0;
        message.set(payload, head.length + 1);
      }
      const { reply, currentHeapCount } = await this.#crank(() => this.#worker.command(message));
      if (currentHeapCount > this.#liveHeap + GC_SLACK) await this.#collect();
      return { reply };
    });
    this.#deliveries = run.catch(() => {});
    return run;
  }

  #onQuery(request: Uint8Array): Uint8Array {
    let split = request.indexOf(0);
    if (split < 0) split = request.length;
    const header = JSON.parse(dec.decode(request.subarray(0, split))) as unknown[];
    const op = header[0] as string;
    const json = (value: unknown): Uint8Array => enc.encode(JSON.stringify(value));
    switch (op) {
      case "wakeAt":
        this.clock.setWake(header[1] === null ? undefined : (header[1] as number));
        return EMPTY;
      case "delay":
        this.clock.delay(header[1] as number);
        return json([this.clock.now(), this.clock.epoch()]);
      case "tcpConnect": {
        const tls = header[3] as { serverName: string; now: number } | null | undefined;
        let id = 0;
        try {
          id = this.link.connect(header[1] as string, header[2] as number, {
            connected: () => void this.#deliver(["tcp", id, "connected"]),
            data: (bytes) => void this.#deliver(["tcp", id, "data"], bytes),
            sent: (count) => void this.#deliver(["tcp", id, "sent", count]),
            closed: () => void this.#deliver(["tcp", id, "closed"]),
            error: (reason) => void this.#deliver(["tcp", id, "error", reason]),
          }, tls ? { ...tls, ca: request.slice(split + 1) } : undefined);
        } catch (error) {
          return json({ error: error instanceof Error ? error.message : String(error) });
        }
        return json(id);
      }
      case "resource":
        try {
          return readResource(header[1] as string, this.config) ?? EMPTY;
        } catch (error) {
          // The device sees no such resource; the log says why (e.g. ca= names no certificate).
          const line = `[sim] resource ${String(header[1])}: ${error instanceof Error ? error.message : String(error)}`;
          this.logs.push(line);
          this.onLog?.(line);
          return EMPTY;
        }
      case "tcpWrite":
        this.link.write(header[1] as number, request.slice(split + 1));
        return EMPTY;
      case "tcpClose":
        this.link.close(header[1] as number);
        return EMPTY;
      case "storageGet":
        return json(this.storage.get(header[1] as string) ?? null);
      case "storageSet":
        this.storage.set(header[1] as string, header[2] === null ? undefined : (header[2] as string));
        return EMPTY;
      case "storageKeys":
        return json(this.storage.keys(header[1] as string));
      case "log": {
        const line = header[1] as string;
        this.logs.push(line);
        this.onLog?.(line);
        return EMPTY;
      }
      case "config":
        return json(this.config);
      case "stat":
        return json(this.#stat(header[1] as string) ?? null);
      case "emit":
        this.events.push({ topic: header[1] as string, detail: header[2] as string, at: this.clock.now() });
        return EMPTY;
      case "fatal": {
        const stack = this.bundle.lines.rewriteStack(header[2] as string, BUNDLE_NAME);
        this.fatal = new FirmwareError(header[1] as string, stack);
        return EMPTY;
      }
      default:
        return json({ error: `unknown op ${op}` });
    }
  }

  #stat(name: string): number | undefined {
    const heap = this.lastMeter.currentHeapCount;
    switch (name) {
      case "System Free Memory": {
        // Module code lives in flash on the board (preloaded), so only what the firmware allocated
        // since its modules loaded counts against the budget.
        if (this.#loadHeap === 0) return SIM_FREE_MEMORY;
        return Math.max(0, SIM_FREE_MEMORY - Math.max(0, this.#liveHeap - this.#loadHeap) * SLOT_BYTES);
      }
      case "XS Slot Heap Used":
        return heap * SLOT_BYTES;
      default:
        return undefined;
    }
  }
}
