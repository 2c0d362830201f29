// The XS lane, host side: bundles firmware (sim/bundle.ts), runs it in an xsnap worker (the real XS
// engine), and bridges the host world into it: clock (real or virtual), TCP (TcpLink), storage
// (Storage, file-backed for reboots), log lines, configuration, named controls, meters.
// It holds the firmware to the board's memory (manifest.json platforms.esp32.creation): the XS stack
// through a pad (xs/bridge.ts), and chunks and slots by measuring what the firmware holds after a full
// collection whenever the board would have collected; above the board's creation is "memory full".
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath, isAbsolute } from "node:path";
import { RealClock, VirtualClock, settle, type Clock, VIRTUAL_EPOCH } from "./clock.ts";
import { TcpLink } from "./tcp-link.ts";
import { Storage } from "./storage.ts";
import { bundle, firmwareEntry, projectRoot, BUNDLE_NAME, type Bundle } from "./bundle.ts";
import { XsnapWorker, XsError, XSNAP_ABORTS, type HeapMeasure, type Meter } from "./xsnap-worker.ts";
import { frame } from "./xs/frame.ts";
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
  /**
   * Which of the board's limits (manifest.json platforms.esp32.creation) hold; peaks are recorded in
   * every case. "board" (default): its XS stack, and "memory full" once the firmware holds more
   * chunks or slots than the creation gives. "stack": the stack only, for lanes whose heap also
   * holds test data (the portable suites). "none": xsnap's own (a 4,096-slot stack, gigabytes), for
   * runs beyond the board on purpose, such as a 500-message in-flight window.
   */
  limits?: "board" | "stack" | "none";
}

/** The memory the esp32 build gives XS (manifest.json platforms.esp32.creation). */
export interface BoardCreation {
  /** Bytes of chunks: chunk.initial, plus chunk.incremental growth (none when 0). */
  chunks: number;
  /** Heap slots: heap.initial (+ incremental, none when 0). */
  slots: number;
  /** XS stack slots: stack. */
  stack: number;
}

/** Reads the esp32 creation from manifest.json (not a copy: the build and the lane read the same). */
export function boardCreation(): BoardCreation {
  const manifest = JSON.parse(readFileSync(join(projectRoot, "manifest.json"), "utf8")) as {
    platforms?: { esp32?: { creation?: { chunk?: { initial?: number; incremental?: number }; heap?: { initial?: number; incremental?: number }; stack?: number } } };
  };
  const c = manifest.platforms?.esp32?.creation;
  const chunk = c?.chunk;
  const heap = c?.heap;
  if (chunk?.initial === undefined || heap?.initial === undefined || c?.stack === undefined) {
    throw new Error("manifest.json: platforms.esp32.creation needs chunk.initial, heap.initial and stack");
  }
  // An incremental size lets the board grow until its malloc fails, which the lane cannot know.
  return {
    chunks: chunk.incremental ? Infinity : chunk.initial,
    slots: heap.incremental ? Infinity : heap.initial,
    stack: c.stack,
  };
}

/** What the firmware holds beyond its loaded modules (which the board keeps in flash), after a GC. */
export interface MemoryUse {
  slots: number;
  /** Bytes. */
  chunks: number;
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
/**
 * Cranks after which the lane measures memory even if the slot count did not grow: chunks (strings,
 * buffers) can grow with few slots, and xsnap's meter reports no chunk figure.
 */
export const MEASURE_EVERY = 32;
/**
 * Stack slots the lane's own frames take between xsnap's call into XS and the firmware's code: for a
 * host event the bridge's dispatch and the timer shim (on the board the native timer calls the
 * callback), for an evaluation the eval wrapper. The pads give them back, so that a firmware callback
 * starts with the stack it has on the board (measured with probes; test/xs-board-limits.test.ts pins it).
 */
export const LANE_FRAME_SLOTS = { command: 107, eval: 70 };
/**
 * Stack slots given back for the lane's stand-ins for the board's natives, which are JavaScript here
 * and take stack the natives do not (measured with probes): a Wi-Fi event reaches the firmware 61
 * slots deeper than a timer callback (the wifi shim's delivery; on the board the native Wi-Fi code
 * calls the callback), and trace and Time.ticks take 32 slots where a native call takes 8. The
 * deepest path of the app (a Wi-Fi event, then a log line at the bottom) carries both: 61 + 24 + 2.
 * Firmware may use at most this many slots more than the board gives where it calls no stand-in;
 * runaway recursion and deep nesting fail as they would on the board.
 */
export const STANDIN_SLOTS = 87;

let snapshots = 0;

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
  /** Set when the firmware restarted the board (the lane stops delivering events; npm start boots again). */
  restarted = false;
  onRestart: (() => void) | undefined;
  /** Set when a firmware exception escaped (the lane stops delivering events). */
  fatal: FirmwareError | undefined;
  /**
   * Meter of the most recent crank, the boot crank(s), and the sum of all computrons. Computrons are
   * the firmware's: the stack pad's cost is subtracted.
   */
  lastMeter: Meter = { compute: 0, currentHeapCount: 0, allocate: 0 };
  bootMeter: Meter = { compute: 0, currentHeapCount: 0, allocate: 0 };
  totalCompute = 0;
  readonly bundle: Bundle;
  /** The board's memory, from manifest.json. */
  readonly creation: BoardCreation = boardCreation();
  /** The most the firmware held (after a GC) in any measurement, and how many measurements. */
  readonly peak: MemoryUse & { samples: number } = { slots: 0, chunks: 0, samples: 0 };
  #worker: XsnapWorker;
  #output = "";
  #bootHeap = 0;
  #loadHeap = 0;
  #liveHeap = 0;
  #loadChunks = 0;
  #cranks = 0;
  #padCost = { eval: 0, command: 0 };
  readonly #snapshotPath = join(tmpdir(), `xs-lane-${process.pid}-${++snapshots}.xss`);
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
    const engine = await this.#worker.measure(this.#snapshotPath);
    const board = this.options.limits !== "none";
    const pad = (lane: number) => (board ? Math.max(0, engine.stackCount - this.creation.stack - lane - STANDIN_SLOTS) : 0);
    const seed = this.options.seed ?? 1;
    const pads = `${pad(LANE_FRAME_SLOTS.command)},${pad(LANE_FRAME_SLOTS.eval)}`;
    const init = `globalThis.__simInit=[${this.clock.now()},${this.clock.epoch()},${seed},${pads}];try{`;
    const code = `${init}${this.bundle.code}\n}catch(e){if(globalThis.__sim)globalThis.__sim.fatal(e);throw e}\n//# sourceURL=${BUNDLE_NAME}\n`;
    // Module bodies run without the pad: on the board most are preloaded, run at build time.
    const loaded = await this.#crank(() => this.#worker.evaluate(code));
    let compute = loaded.compute;
    await this.#calibrate();
    const load = await this.#measure();
    this.#loadHeap = load.slots;
    this.#loadChunks = load.chunks;
    if (this.options.boot !== false) {
      const booted = await this.#evaluateNow("globalThis.__sim.boot()");
      compute += booted.compute;
    }
    this.bootMeter = { ...this.lastMeter, compute };
  }

  /** Measures the pad's computrons on both paths into XS, so that they can be subtracted. */
  async #calibrate(): Promise<void> {
    const run = async (message: Uint8Array | string): Promise<number> => {
      const send = () => (typeof message === "string" ? this.#worker.evaluate(message) : this.#worker.command(message));
      await send(); // the first run of a script path can differ (inline caches)
      return (await send()).meter.compute;
    };
    this.#padCost.command = (await run(Uint8Array.of(1))) - (await run(Uint8Array.of(0)));
    const clock = `globalThis.__sim.clock(${this.clock.now()},${this.clock.epoch()});`;
    this.#padCost.eval = (await run(`${clock}globalThis.__sim.eval("0")`)) - (await run(`${clock}0`));
  }

  async #crank(
    run: () => Promise<{ meter: Meter; reply: Uint8Array }>,
    padded?: "eval" | "command",
  ): Promise<Meter & { reply: Uint8Array }> {
    let result: { meter: Meter; reply: Uint8Array };
    try {
      result = await run();
    } catch (error) {
      if (error instanceof XsError) throw this.#die(error);
      throw error;
    }
    const meter = { ...result.meter };
    if (padded !== undefined) meter.compute = Math.max(0, meter.compute - this.#padCost[padded]);
    this.lastMeter = meter;
    this.totalCompute += meter.compute;
    if (this.#loadHeap > 0) {
      this.#cranks++;
      const limits = this.options.limits ?? "board";
      // The board collects when its heap is full: live plus garbage past its slots.
      const full = limits === "board" && meter.currentHeapCount - this.#loadHeap > this.creation.slots;
      if (full || (limits !== "none" && this.#cranks >= MEASURE_EVERY)) await this.#measure();
      else if (meter.currentHeapCount > this.#liveHeap + GC_SLACK) await this.#collect();
    }
    return { ...meter, reply: result.reply };
  }

  /** The engine died: an XS abort reads as the board's, with the last device lines. */
  #die(error: XsError): FirmwareError {
    if (this.fatal !== undefined) return this.fatal;
    const abort = error.exitCode === undefined ? undefined : XSNAP_ABORTS[error.exitCode];
    if (abort === undefined) {
      this.fatal = new FirmwareError(error.message, error.message);
      return this.fatal;
    }
    let detail = `xsnap exit ${error.exitCode}`;
    if (abort === "stack overflow") detail += `; the board's XS stack is ${this.creation.stack} slots (manifest.json platforms.esp32.creation.stack)`;
    return this.#abort(abort, detail);
  }

  /** Stops the lane as the board's XS abort would stop the board, naming why, with the last lines. */
  #abort(what: string, detail: string): FirmwareError {
    const last = this.logs.slice(-10);
    const line = `XS abort: ${what}`;
    this.logs.push(line);
    this.onLog?.(line);
    const context = `last log lines:\n${last.map((l) => `  ${l}`).join("\n")}`;
    this.fatal = new FirmwareError(`${what} (${detail})\n${context}`, context);
    return this.fatal;
  }

  /**
   * A full collection and a measurement (a snapshot header: not an evaluation, costs no computrons),
   * as the board collects when its heap fills; records the peaks and, past the board's creation, stops
   * the lane with "memory full". The lane runs one when the board would have collected and every
   * MEASURE_EVERY cranks (lanes with limits "none": only when asked).
   */
  async #measure(): Promise<HeapMeasure> {
    const m = await this.#worker.measure(this.#snapshotPath);
    this.#cranks = 0;
    this.#held(m.slots, m.chunks);
    return m;
  }

  /**
   * A full collection only (xs gc, a command: cheaper than a snapshot for a large heap), whenever the
   * heap grew by GC_SLACK; returns the live slots and records the slot peak.
   */
  async #collect(): Promise<number> {
    const message = enc.encode(JSON.stringify(["gc", this.clock.now(), this.clock.epoch()]));
    const { meter } = await this.#worker.command(message);
    this.#held(meter.currentHeapCount, undefined);
    return meter.currentHeapCount;
  }

  /** Records what the firmware holds after a collection (chunks when measured) against the board. */
  #held(slots: number, chunks: number | undefined): void {
    this.lastMeter = { ...this.lastMeter, currentHeapCount: slots, compute: 0 };
    this.#liveHeap = slots;
    if (this.#loadHeap === 0) return;
    const use = { slots: slots - this.#loadHeap, chunks: chunks === undefined ? 0 : chunks - this.#loadChunks };
    this.peak.slots = Math.max(this.peak.slots, use.slots);
    if (chunks !== undefined) {
      this.peak.chunks = Math.max(this.peak.chunks, use.chunks);
      this.peak.samples++;
    }
    if ((this.options.limits ?? "board") === "board" && this.fatal === undefined) {
      const over: string[] = [];
      if (use.slots > this.creation.slots) over.push(`${use.slots} slots held, the board has ${this.creation.slots}`);
      if (use.chunks > this.creation.chunks) over.push(`${use.chunks} bytes of chunks held, the board has ${this.creation.chunks}`);
      if (over.length > 0) throw this.#abort("memory full", `${over.join("; ")}: manifest.json platforms.esp32.creation`);
    }
  }

  /** What the firmware holds now (after a full GC), beyond its loaded modules. */
  async memoryUse(): Promise<MemoryUse> {
    const run = this.#deliveries.then(() => this.#measure());
    this.#deliveries = run.catch(() => {});
    const m = await run;
    return { slots: m.slots - this.#loadHeap, chunks: m.chunks - this.#loadChunks };
  }

  /** One line for test output: the firmware's peak memory against the board's. */
  peakLine(): string {
    const n = (x: number) => x.toLocaleString("en-US");
    const { slots, chunks, samples } = this.peak;
    const limits = this.options.limits ?? "board";
    const held = limits === "board" ? "" : limits === "stack" ? " (memory not held to the board)" : " (not held to the board)";
    const stack = limits === "none" ? "stack xsnap's" : `stack held to ${n(this.creation.stack)} slots`;
    return `# peak ${this.#name()}: slots ${n(slots)} of ${n(this.creation.slots)}, chunks ${n(chunks)} of ${n(this.creation.chunks)} bytes, ${stack}${held}; ${samples} measurements after GC`;
  }

  #name(): string {
    if (this.options.entryCode !== undefined) return "entry code";
    return this.options.entry ?? "main.ts";
  }

  /** Evaluates script code in XS (one crank, after queued events); returns the crank's meter. */
  async evaluate(code: string): Promise<Meter> {
    const { reply: _reply, ...meter } = await this.#evaluateNow(code);
    return meter;
  }

  /** Runs `code` in order with the event deliveries, with XS's view of the clock brought up to date. */
  #evaluateNow(code: string): Promise<Meter & { reply: Uint8Array }> {
    const run = this.#deliveries.then(() =>
      this.#crank(
        () => this.#worker.evaluate(`globalThis.__sim.clock(${this.clock.now()},${this.clock.epoch()});globalThis.__sim.eval(${JSON.stringify(code)})`),
        "eval",
      ),
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
    // A last measurement first: the peak then covers the whole run, however short.
    await this.#deliveries;
    if (this.#worker.alive && this.fatal === undefined && this.#loadHeap > 0) await this.#measure().catch(() => {});
    this.#closed = true;
    this.clock.stop();
    this.link.destroyAll();
    await this.#worker.close().catch(() => this.#worker.kill());
    rmSync(this.#snapshotPath, { force: true });
    // Under node:test, each lane says how much of the board's memory its firmware needed.
    if (process.env.NODE_TEST_CONTEXT !== undefined && this.peak.samples > 0) console.log(this.peakLine());
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
      if (this.#closed || this.fatal || this.restarted) return { reply: EMPTY };
      const [kind, ...rest] = header;
      const message = frame(enc.encode(JSON.stringify([kind, this.clock.now(), this.clock.epoch(), ...rest])), payload);
      const { reply } = await this.#crank(() => this.#worker.command(message), "command");
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
      case "slotErase":
        this.storage.slotErase(header[1] as string);
        return EMPTY;
      case "slotWrite":
        this.storage.slotWrite(header[1] as string, header[2] as number, request.slice(split + 1));
        return EMPTY;
      case "restart":
        // esp_restart does not return: nothing more is delivered to this firmware.
        this.restarted = true;
        this.events.push({ topic: "system", detail: "restart", at: this.clock.now() });
        this.onRestart?.();
        return EMPTY;
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
