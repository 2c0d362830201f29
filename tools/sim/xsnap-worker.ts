// A minimal driver for @agoric/xsnap's `xsnap-worker` binary (the real XS engine, built from
// Moddable's sources at npm install). We talk its netstring protocol on fds 3/4 directly instead of
// using @agoric/xsnap's JS wrapper, which requires SES lockdown of the whole Node process.
// Protocol (xsnap-worker.c): to the worker "e<code>" evaluate, "?<bytes>" call globalThis.handleCommand,
// "q" quit; from the worker ".<meter json>\x01<reply>" ok, "!<message>" uncaught exception,
// "?<bytes>" a synchronous issueCommand from XS, answered with "/<bytes>".
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";

export interface Meter {
  /** Computrons of the crank (deterministic). */
  compute: number;
  /** Heap slots in use at the end of the crank. */
  currentHeapCount: number;
  allocate: number;
}

export interface CrankResult {
  reply: Uint8Array;
  meter: Meter;
}

export class XsError extends Error {
  /** The worker's exit code when it died (xsnap-worker.c's ExitCode: 11 memory, 12 stack, 17 metering). */
  readonly exitCode: number | undefined;
  constructor(message: string, exitCode?: number) {
    super(message);
    this.name = "XsError";
    this.exitCode = exitCode;
  }
}

/** xsnap-worker.c's exit codes for an XS abort (10 + the abort status), with XS's names for them. */
export const XSNAP_ABORTS: { readonly [code: number]: string } = {
  11: "memory full",
  12: "stack overflow",
  16: "not enough keys",
  17: "too much computation",
};

/** Live memory of the engine after a full GC, read from the header of an XS snapshot. */
export interface HeapMeasure {
  /** Slots in use (the worker's currentHeapCount right after the snapshot's collection). */
  slots: number;
  /** Bytes of chunks in use: strings, ArrayBuffer data, array storage, bytecode (snapshot atom BLOC). */
  chunks: number;
  /** The engine's XS stack, in slots (xsCreation.stackCount, snapshot atom CREA). */
  stackCount: number;
}

export function xsnapWorkerPath(debug = false): string {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve("@agoric/xsnap/package.json"));
  const platform = process.platform === "darwin" ? "mac" : "lin";
  return join(pkg, "xsnap-native", "xsnap", "build", "bin", platform, debug ? "debug" : "release", "xsnap-worker");
}

export interface WorkerOptions {
  name?: string;
  /** Computron limit per crank (default 1e9); an exceeding crank kills the worker. */
  meteringLimit?: number;
  /** Answers a synchronous issueCommand from XS. Must not throw. */
  onQuery: (request: Uint8Array) => Uint8Array;
  /** Worker stdout/stderr lines (XS `print`, engine diagnostics). */
  onOutput?: (text: string) => void;
}

const enc = new TextEncoder();

export class XsnapWorker {
  readonly #proc: ChildProcess;
  readonly #toXs: Writable;
  readonly #fromXs: Readable;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (r: CrankResult) => void; reject: (e: Error) => void } | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #exited: Error | undefined;
  readonly #onQuery: (request: Uint8Array) => Uint8Array;
  readonly exit: Promise<number | null>;

  constructor(options: WorkerOptions) {
    this.#onQuery = options.onQuery;
    const args = [options.name ?? "sim", "-l", String(options.meteringLimit ?? 1e9)];
    this.#proc = spawn(xsnapWorkerPath(), args, { stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"] });
    const stdio = this.#proc.stdio as unknown as [null, Readable, Readable, Writable, Readable];
    this.#toXs = stdio[3];
    this.#fromXs = stdio[4];
    const out = options.onOutput ?? ((text: string) => process.stderr.write(text));
    stdio[1].on("data", (d: Buffer) => out(d.toString("utf8")));
    stdio[2].on("data", (d: Buffer) => out(d.toString("utf8")));
    this.#toXs.on("error", () => {});
    this.#fromXs.on("data", (d: Buffer) => this.#onData(d));
    this.exit = new Promise((resolve) => {
      this.#proc.on("exit", (code, signal) => {
        const abort = code === null ? undefined : XSNAP_ABORTS[code];
        const why = `code ${code}${abort ? `: ${abort}` : ""}${signal ? `, signal ${signal}` : ""}`;
        this.#exited = new XsError(`xsnap worker exited (${why})`, code ?? undefined);
        this.#waiting?.reject(this.#exited);
        this.#waiting = undefined;
        resolve(code);
      });
    });
  }

  get alive(): boolean {
    return this.#exited === undefined;
  }

  /** Evaluates script code in the global scope (one crank). */
  evaluate(code: string): Promise<CrankResult> {
    return this.#send(Buffer.concat([Buffer.from("e"), Buffer.from(code, "utf8")]));
  }

  /** Calls globalThis.handleCommand(bytes) in XS (one crank). */
  command(bytes: Uint8Array): Promise<CrankResult> {
    return this.#send(Buffer.concat([Buffer.from("?"), bytes]));
  }

  /** Writes an XS heap snapshot to `path` (diagnostics: e.g. diff the key names of two snapshots). */
  async snapshot(path: string): Promise<number> {
    const { reply } = await this.#send(Buffer.from(`w${path}`, "utf8"));
    return Number(Buffer.from(reply).toString("latin1"));
  }

  /**
   * Writes a snapshot to `path` and reads the live chunk bytes and the stack size from its header
   * (the worker reports slots in its meter, chunks nowhere else). The snapshot collects garbage first.
   */
  async measure(path: string): Promise<HeapMeasure> {
    const { meter } = await this.#send(Buffer.from(`w${path}`, "utf8"));
    const atoms = snapshotAtoms(path, ["CREA", "BLOC"]);
    const crea = atoms.get("CREA");
    const bloc = atoms.get("BLOC");
    if (crea === undefined || bloc === undefined) throw new XsError(`snapshot ${path}: no CREA or BLOC atom`);
    // txCreation (xsAll.h): initialChunkSize, incrementalChunkSize, initialHeapCount,
    // incrementalHeapCount, stackCount, ... as native-endian 32-bit integers.
    return { slots: meter.currentHeapCount, chunks: bloc.size, stackCount: crea.head.readInt32LE(16) };
  }

  /** Asks the worker to quit and waits for it. */
  async close(): Promise<void> {
    if (!this.alive) return;
    await this.#chain.catch(() => {});
    if (this.alive) this.#write(Buffer.from("q"));
    this.#toXs.end();
    const timer = setTimeout(() => this.#proc.kill("SIGKILL"), 2000);
    await this.exit;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.alive) this.#proc.kill("SIGKILL");
  }

  #send(message: Buffer): Promise<CrankResult> {
    const run = this.#chain.then(
      () =>
        new Promise<CrankResult>((resolve, reject) => {
          if (this.#exited) return reject(this.#exited);
          this.#waiting = { resolve, reject };
          this.#write(message);
        }),
    );
    this.#chain = run.catch(() => {});
    return run;
  }

  #write(payload: Buffer): void {
    this.#toXs.write(Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(",")]));
  }

  #onData(data: Buffer): void {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, data]) : data;
    for (;;) {
      const colon = this.#buffer.indexOf(58);
      if (colon < 0) return;
      const length = Number(this.#buffer.subarray(0, colon).toString("latin1"));
      if (this.#buffer.length < colon + 2 + length) return;
      const message = this.#buffer.subarray(colon + 1, colon + 1 + length);
      this.#buffer = this.#buffer.subarray(colon + 2 + length);
      this.#onMessage(message);
    }
  }

  #onMessage(message: Buffer): void {
    const kind = message[0];
    if (kind === 0x3f /* ? */) {
      let reply: Uint8Array;
      try {
        reply = this.#onQuery(new Uint8Array(message.buffer, message.byteOffset + 1, message.length - 1));
      } catch (error) {
        reply = enc.encode(JSON.stringify({ error: String(error) }));
      }
      this.#write(Buffer.concat([Buffer.from("/"), reply]));
      return;
    }
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting === undefined) return;
    if (kind === 0x2e /* . */) {
      const sep = message.indexOf(1, 1);
      let meter: Meter = { compute: 0, currentHeapCount: 0, allocate: 0 };
      if (sep >= 0) meter = JSON.parse(message.subarray(1, sep).toString("utf8")) as Meter;
      const reply = new Uint8Array(message.subarray(sep < 0 ? 1 : sep + 1));
      waiting.resolve({ reply, meter });
    } else if (kind === 0x21 /* ! */) {
      waiting.reject(new XsError(message.subarray(1).toString("utf8")));
    } else {
      waiting.reject(new XsError(`xsnap protocol error: ${message.subarray(0, 40).toString("utf8")}`));
    }
  }
}

/**
 * The sizes (and first bytes) of atoms in an XS snapshot file (xsSnapshot.c: a big-endian 32-bit size
 * including its 8-byte header, then a 4-letter name; the first atom "XS_M" holds the others).
 */
function snapshotAtoms(path: string, names: string[]): Map<string, { size: number; head: Buffer }> {
  const found = new Map<string, { size: number; head: Buffer }>();
  const fd = openSync(path, "r");
  try {
    const header = Buffer.alloc(8 + 64);
    let at = 8;
    while (found.size < names.length) {
      const n = readSync(fd, header, 0, header.length, at);
      if (n < 8) break;
      const size = header.readUInt32BE(0);
      const name = header.toString("latin1", 4, 8);
      if (size < 8) break;
      if (names.includes(name)) found.set(name, { size: size - 8, head: Buffer.from(header.subarray(8, n)) });
      at += size;
    }
  } finally {
    closeSync(fd);
  }
  return found;
}
