// The Node lane: firmware modules imported into a Node process (tests) get the sim/modules shims
// (through the resolve hook that sim/register.ts installs) and this host. One lane per process.
// Default clock: virtual (advance it with `nodeLane.advance(ms)`); TCP is real (node:net) with the
// link controls of TcpLink; storage in memory unless `storagePath` is given.
import { setHost, runControl, type Host, type TcpEvents, type TlsOptions } from "./host.ts";
import { RealClock, VirtualClock, type Clock } from "./clock.ts";
import { TcpLink } from "./tcp-link.ts";
import { Storage } from "./storage.ts";
import { installBoardNatives } from "./natives.ts";
import { readResource } from "./resources.ts";

export interface LaneLog {
  readonly lines: string[];
  /** Called for every line (after it is stored). */
  onLine: ((line: string) => void) | undefined;
}

export class NodeLane {
  clock: Clock = new VirtualClock();
  readonly link = new TcpLink();
  storage = new Storage();
  readonly config: Record<string, string> = {};
  readonly log: LaneLog = { lines: [], onLine: undefined };
  /** Notifications from in-lane models via Host.emit, in order. */
  readonly events: Array<{ topic: string; detail: string; at: number }> = [];
  /** Restarts the firmware asked for (a Node-lane process cannot reboot it: tests read this). */
  restarts = 0;
  #wake: () => void = () => {};
  readonly host: Host;

  constructor() {
    const lane = this;
    this.host = {
      lane: "node",
      ticks: () => lane.clock.now(),
      epoch: () => lane.clock.epoch(),
      wakeAt: (at) => lane.clock.setWake(at),
      onWake: (handler) => {
        lane.#wake = handler;
        lane.clock.bind(handler);
      },
      delay: (ms) => lane.clock.delay(ms),
      tcpConnect: (h: string, port: number, events: TcpEvents, tls?: TlsOptions) => lane.link.connect(h, port, events, tls),
      tcpWrite: (id, bytes) => lane.link.write(id, bytes),
      tcpClose: (id) => lane.link.close(id),
      resource: (name) => readResource(name, lane.config),
      storageGet: (key) => lane.storage.get(key),
      storageSet: (key, value) => lane.storage.set(key, value),
      storageKeys: (prefix) => lane.storage.keys(prefix),
      slotErase: (slot) => lane.storage.slotErase(slot),
      slotWrite: (slot, offset, bytes) => lane.storage.slotWrite(slot, offset, bytes),
      restart: () => {
        lane.restarts++;
        lane.events.push({ topic: "system", detail: "restart", at: lane.clock.now() });
      },
      log: (line) => {
        lane.log.lines.push(line);
        lane.log.onLine?.(line);
        if (process.env.SIM_LOG) process.stdout.write(`${line}\n`);
      },
      config: () => lane.config,
      stat: (name) => nodeStat(name),
      emit: (topic, detail) => {
        lane.events.push({ topic, detail, at: lane.clock.now() });
      },
    };
  }

  /** Switches to the real clock (call before firmware sets timers). */
  useRealClock(): void {
    this.clock.stop();
    this.clock = new RealClock();
    this.clock.bind(this.#wake);
  }

  /** Switches to a fresh virtual clock starting at 0 (call before firmware sets timers). */
  useVirtualClock(epoch?: number): VirtualClock {
    this.clock.stop();
    const clock = new VirtualClock(epoch);
    clock.bind(this.#wake);
    this.clock = clock;
    return clock;
  }

  /** Advances the virtual clock by `ms`, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    if (!(this.clock instanceof VirtualClock)) throw new Error("nodeLane.advance: the lane runs on the real clock");
    await this.clock.advance(ms);
  }

  /** Replaces the configuration seen through mc/config (same object, updated in place). */
  setConfig(values: Record<string, string>): void {
    for (const key of Object.keys(this.config)) delete this.config[key];
    Object.assign(this.config, values);
  }

  /** Uses a file-backed store (e.g. shared with a later XS lane to simulate a reboot). */
  useStorage(path: string | undefined): void {
    this.storage = new Storage(path);
  }

  /** Invokes an in-lane named control (see sim/host.ts `control`). */
  control(name: string, arg = ""): string | undefined {
    return runControl(name, arg);
  }

  /** Stops the clock and drops every connection (end of a test file). */
  shutdown(): void {
    this.clock.stop();
    this.link.destroyAll();
  }
}

function nodeStat(name: string): number | undefined {
  if (name === "System Free Memory") return 80 * 1024; // the board budget; the Node lane has no XS heap
  return undefined;
}

/** The lane of this process (installed as the host by sim/register.ts). */
export const nodeLane = new NodeLane();

/** `trace` as on the board: one device log line per call (a trailing newline is dropped). */
export function traceToHost(...parts: unknown[]): void {
  let text = parts.map(String).join("");
  if (text.endsWith("\n")) text = text.slice(0, -1);
  for (const line of text.split("\n")) nodeLane.host.log(line);
}

/** Makes `nodeLane` the host of this process (idempotent). */
export function installNodeLane(): void {
  setHost(nodeLane.host);
  (globalThis as { trace?: unknown }).trace = traceToHost;
  installBoardNatives(new TextEncoder(), new TextDecoder());
}
