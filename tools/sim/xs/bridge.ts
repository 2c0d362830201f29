// The XS side of the XS lane: installs the Host (sim/host.ts) over xsnap's synchronous
// `issueCommand` to the Node parent, receives host events through `globalThis.handleCommand`,
// provides `trace`, a Date that follows the lane's clock, a seeded Math.random, and removes the
// globals xsnap has but the board does not. Bundled first, before any firmware module.
// Messages both ways: UTF-8 JSON array header, optionally followed by a 0 byte and raw payload.
// Host -> XS header: [kind, now, epoch, ...]; XS -> host header: [op, ...].
import { setHost, runControl, type Host, type TcpEvents } from "../host.ts";
import { wallClock } from "../modules/time.ts";
import { installBoardNatives } from "../natives.ts";
import { frame } from "./frame.ts";

interface Encoder {
  encode(text: string): Uint8Array;
}
interface Decoder {
  decode(bytes: Uint8Array | ArrayBuffer): string;
}
interface XsGlobals {
  eval: (code: string) => unknown;
  issueCommand: (message: ArrayBufferLike) => ArrayBuffer;
  TextEncoder: new () => Encoder;
  TextDecoder: new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }) => Decoder;
  gc?: () => void;
  handleCommand?: (message: ArrayBuffer) => ArrayBuffer;
  trace?: (...parts: unknown[]) => void;
  __sim?: SimApi;
  Date: DateConstructor;
}

export interface SimApi {
  /** The firmware entry module's namespace (set by the generated entry). */
  entry: Record<string, unknown> | undefined;
  /** Updates the clock view and seeds Math.random (before boot). */
  init(now: number, epoch: number, seed: number): void;
  /** Updates the clock view (the lane calls it before each evaluation). */
  clock(now: number, epoch: number): void;
  /** Runs the entry's default export if it is a function (Moddable calls main's default). */
  boot(): void;
  /** Encodes a string reply for the host (the eval result must be an ArrayBuffer). */
  reply(text: string): ArrayBuffer;
  /** Reports an exception with its XS stack to the host, then returns it. */
  fatal(error: unknown): unknown;
  /** Full garbage collection (for heap measurements). */
  gc(): void;
  /** Evaluates script code in the global scope with only the board's XS stack left (see stackPad). */
  eval(code: string): unknown;
}

const g = globalThis as unknown as XsGlobals & Record<string, unknown>;
const issue = g.issueCommand;
const encoder = new g.TextEncoder();
const decoder = new g.TextDecoder();
const collect = g.gc;
// The board's string natives, metered close to what a native call costs (about 8 computrons): the
// portable versions in natives.ts are JavaScript around the encoder and cost 58 and 85 a call, which
// XS measurements of firmware (bench/) would count as firmware work. The same contract: UTF-8 in a
// new ArrayBuffer; an ArrayBuffer's UTF-8 as a string, a TypeError for bytes that are not UTF-8 or
// for a view (the device takes ArrayBuffers only), a BOM kept as U+FEFF.
const strict = new g.TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const isView = ArrayBuffer.isView;
(ArrayBuffer as { fromString?: (text: string) => ArrayBuffer }).fromString = (text) => encoder.encode(text).buffer as ArrayBuffer;
(String as { fromArrayBuffer?: (buffer: ArrayBuffer) => string }).fromArrayBuffer = (buffer) => {
  if (isView(buffer)) throw new TypeError("argument: not an ArrayBuffer instance");
  return strict.decode(buffer);
};
installBoardNatives(encoder, decoder);

// The board has none of these (and xsnap-only APIs must not leak into firmware).
for (const name of [
  "issueCommand",
  "TextEncoder",
  "TextDecoder",
  "Base64",
  "print",
  "setImmediate",
  "gc",
  "performance",
  "currentMeterLimit",
  "resetMeter",
]) {
  delete g[name];
}

let now = 0;
let epoch = 0;
let wake: () => void = () => {};
const sockets = new Map<number, TcpEvents>();

function call(header: unknown[], payload?: Uint8Array): string {
  return decoder.decode(callBytes(header, payload));
}

function callBytes(header: unknown[], payload?: Uint8Array): Uint8Array {
  const message = frame(encoder.encode(JSON.stringify(header)), payload);
  return new Uint8Array(issue(message.byteLength === message.buffer.byteLength ? message.buffer : message.slice().buffer));
}

function callJson(header: unknown[]): unknown {
  const text = call(header);
  return text === "" ? undefined : (JSON.parse(text) as unknown);
}

let cachedConfig: Record<string, string> | undefined;

const xsHost: Host = {
  lane: "xs",
  ticks: () => now,
  epoch: () => epoch,
  wakeAt: (at) => {
    call(["wakeAt", at === undefined ? null : at]);
  },
  onWake: (handler) => {
    wake = handler;
  },
  delay: (ms) => {
    const t = callJson(["delay", ms]) as [number, number];
    now = t[0];
    epoch = t[1];
  },
  tcpConnect: (hostName, port, events, tls) => {
    const header = ["tcpConnect", hostName, port, tls === undefined ? null : { serverName: tls.serverName, now: tls.now }];
    const reply = JSON.parse(call(header, tls?.ca)) as number | { error: string };
    if (typeof reply !== "number") throw new Error(reply.error);
    sockets.set(reply, events);
    return reply;
  },
  tcpWrite: (id, bytes) => {
    call(["tcpWrite", id], bytes);
  },
  tcpClose: (id) => {
    sockets.delete(id);
    call(["tcpClose", id]);
  },
  resource: (name) => {
    const bytes = callBytes(["resource", name]);
    return bytes.length === 0 ? undefined : bytes;
  },
  storageGet: (key) => {
    const v = callJson(["storageGet", key]);
    return typeof v === "string" ? v : undefined;
  },
  storageSet: (key, value) => {
    call(["storageSet", key, value === undefined ? null : value]);
  },
  storageKeys: (prefix) => callJson(["storageKeys", prefix]) as string[],
  slotErase: (slot) => {
    call(["slotErase", slot]);
  },
  slotWrite: (slot, offset, bytes) => {
    call(["slotWrite", slot, offset], bytes);
  },
  restart: () => {
    call(["restart"]);
  },
  log: (line) => {
    call(["log", line]);
  },
  config: () => {
    if (cachedConfig === undefined) cachedConfig = callJson(["config"]) as Record<string, string>;
    return cachedConfig;
  },
  stat: (name) => {
    const v = callJson(["stat", name]);
    return typeof v === "number" ? v : undefined;
  },
  emit: (topic, detail) => {
    call(["emit", topic, detail]);
  },
};
setHost(xsHost);

// One frame and natives only: the board's trace is native, and firmware calls it at any depth, so
// here it must take as little of the (board-sized) stack as it can.
g.trace = (...parts: unknown[]): void => {
  let text = "";
  for (let i = 0; i < parts.length; i++) text += String(parts[i]);
  if (text.endsWith("\n")) text = text.slice(0, -1);
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const head = encoder.encode(`["log",${JSON.stringify(lines[i])}]`);
    issue(head.byteLength === head.buffer.byteLength ? head.buffer : head.slice().buffer);
  }
};

// Date follows the lane's clock (virtual in tests) and Time.set.
const NativeDate = g.Date;
class SimDate extends NativeDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(wallClock());
    else if (args.length === 1) super(args[0] as string | number | Date);
    else super(...(args as [number, number, number?, number?, number?, number?, number?]));
  }
  static override now(): number {
    return wallClock();
  }
}
g.Date = SimDate as unknown as DateConstructor;

// Seeded Math.random (mulberry32): same seed, same run.
let seed = 1;
Math.random = (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const initial = g.__simInit as [number, number, number, number?, number?] | undefined;
if (initial !== undefined) {
  now = initial[0];
  epoch = initial[1];
  seed = initial[2] | 0;
}

// The board's XS stack (manifest.json creation.stack: 512 slots) is an eighth of xsnap's (4,096,
// fixed in xsnap-worker.c), and xsnap cannot be told otherwise. So every entry into firmware code
// (each host event, each evaluation after loading) runs under a pad: a call with as many arguments as
// slots the board does not have, each argument one slot of the stack. Firmware that needs more stack
// than the board has overflows here too, in XS itself (the worker exits 12). The lane gives the pads'
// sizes (__simInit[3], [4]: host events, evaluations; less the lane's own frames on each path) and
// subtracts their computrons, measured with the calibration commands below.
function pad(slots: number | undefined): number[] {
  const p: number[] = [];
  p.length = slots ?? 0;
  return p.fill(0);
}
const commandPad = pad(initial?.[3]);
const evalPad = pad(initial?.[4]);
let padded: () => unknown = () => undefined;
function underPad(): unknown {
  return padded();
}
function runPadded(run: () => unknown, slots: number[]): unknown {
  padded = run;
  return Reflect.apply(underPad, undefined, slots);
}

const empty = new ArrayBuffer(0);
const returnEmpty = (): ArrayBuffer => empty;
const indirectEval = g.eval;
let pendingCode = "";
// Taken, then cleared, so the lane's memory figures do not count the last message or script.
const evalPending = (): unknown => {
  const code = pendingCode;
  pendingCode = "";
  return indirectEval(code);
};
let pendingMessage: ArrayBuffer = empty;
const dispatchPending = (): ArrayBuffer => {
  const message = pendingMessage;
  pendingMessage = empty;
  return dispatch(message);
};

g.handleCommand = (message: ArrayBuffer): ArrayBuffer => {
  // Calibration (one byte): 0 returns at once, 1 returns through the pad; the difference in
  // computrons is the pad's cost, which the lane subtracts from every padded crank.
  if (message.byteLength === 1) return new Uint8Array(message)[0] === 0 ? empty : (runPadded(returnEmpty, commandPad) as ArrayBuffer);
  pendingMessage = message;
  return runPadded(dispatchPending, commandPad) as ArrayBuffer;
};

function dispatch(message: ArrayBuffer): ArrayBuffer {
  const bytes = new Uint8Array(message);
  let split = bytes.indexOf(0);
  if (split < 0) split = bytes.length;
  const header = JSON.parse(decoder.decode(bytes.subarray(0, split))) as unknown[];
  const kind = header[0] as string;
  now = header[1] as number;
  epoch = header[2] as number;
  try {
    switch (kind) {
      case "wake":
        wake();
        return empty;
      case "tcp": {
        const id = header[3] as number;
        const events = sockets.get(id);
        if (events === undefined) return empty;
        const what = header[4] as string;
        if (what === "connected") events.connected();
        else if (what === "data") events.data(bytes.slice(split + 1));
        else if (what === "sent") events.sent(header[5] as number);
        else if (what === "closed") {
          sockets.delete(id);
          events.closed();
        } else if (what === "error") {
          sockets.delete(id);
          events.error(header[5] as string);
        }
        return empty;
      }
      case "gc":
        // A full collection without evaluating a script (each new script name costs a slot for good).
        collect?.();
        return empty;
      case "control": {
        let reply: string;
        try {
          const r = runControl(header[3] as string, header[4] as string);
          reply = JSON.stringify({ reply: r === undefined ? null : r });
        } catch (error) {
          reply = JSON.stringify({ error: String(error) });
        }
        return encoder.encode(reply).buffer as ArrayBuffer;
      }
      default:
        return empty;
    }
  } catch (error) {
    throw api.fatal(error);
  }
}

const api: SimApi = {
  entry: undefined,
  init(n, e, s) {
    now = n;
    epoch = e;
    seed = s | 0;
  },
  clock(n, e) {
    now = n;
    epoch = e;
  },
  boot() {
    const main = api.entry?.default;
    if (typeof main === "function") {
      try {
        (main as () => void)();
      } catch (error) {
        throw api.fatal(error);
      }
    }
  },
  reply(text) {
    return encoder.encode(text).buffer as ArrayBuffer;
  },
  fatal(error) {
    const stack = error instanceof Error && typeof error.stack === "string" ? error.stack : String(error);
    call(["fatal", String(error), stack]);
    return error;
  },
  gc() {
    collect?.();
  },
  eval(code) {
    pendingCode = code;
    return runPadded(evalPending, evalPad);
  },
};
g.__sim = api;
