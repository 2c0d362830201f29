// The one interface between the Moddable module shims in sim/modules/ and the outside world.
//
// Shims (socket, timer, time, preference, instrumentation, mc/config, and the Wi-Fi / I2C models
// other engineers write) are written like firmware: no Node API, no DOM, no timers of their own.
// Everything that needs the world (clock, TCP, storage, log output, configuration, test control)
// goes through `host()`. Each lane installs one implementation before any firmware runs:
//   - Node lane: sim/node-lane.ts (direct calls into node:net, fs, a real or virtual clock);
//   - XS lane: sim/xs/bridge.ts (synchronous `issueCommand` to the Node parent, and events from
//     the parent through `handleCommand`), host side in sim/xs-lane.ts.
// This file itself is lane-neutral and is bundled into XS.

/** Events the host delivers for one TCP connection opened with `Host.tcpConnect`. */
export interface TcpEvents {
  /** The connection is established. */
  connected(): void;
  /** Bytes arrived from the peer (any chunking). */
  data(bytes: Uint8Array): void;
  /** `count` previously written bytes left the send buffer (were acknowledged). */
  sent(count: number): void;
  /** The peer closed the connection in order (FIN). */
  closed(): void;
  /** The connection failed: refused, reset, unreachable. */
  error(reason: string): void;
}

/** TLS on a connection opened with `Host.tcpConnect` (the securesocket shim's handshake, done by the host). */
export interface TlsOptions {
  /** The one CA to trust, DER. */
  readonly ca: Uint8Array;
  /** Checked against the server certificate's subjectAltName and sent as SNI (a host name only). */
  readonly serverName: string;
  /** The device's clock (ms since 1970) when it opened the connection: certificate dates are checked against it. */
  readonly now: number;
}

export interface Host {
  /** "node" or "xs": for diagnostics only; shims must not branch on it. */
  readonly lane: string;
  /** Milliseconds since boot on the lane's clock (real or virtual). */
  ticks(): number;
  /** Milliseconds since 1970-01-01 UTC, consistent with ticks(). */
  epoch(): number;
  /**
   * Asks for one call of the wake handler once ticks() >= `at` (replaces any earlier request;
   * undefined cancels). Only the timer module uses this; other shims use `timer`.
   */
  wakeAt(at: number | undefined): void;
  /** Installs the (single) wake handler. */
  onWake(handler: () => void): void;
  /** Blocks for `ms` (Timer.delay). On the virtual clock, time simply moves on. */
  delay(ms: number): void;

  /**
   * Opens a TCP connection; returns its id. Events arrive later, never from inside this call. With
   * `tls`, `connected` comes after a successful handshake and the bytes are the decrypted stream; a
   * failed handshake is an `error` with the reason. Throws when `tls.ca` is unusable (not a
   * certificate, or outside its dates at `tls.now`).
   */
  tcpConnect(host: string, port: number, events: TcpEvents, tls?: TlsOptions): number;
  /** Sends bytes; the host reports them as `sent` when they leave the send buffer. */
  tcpWrite(id: number, bytes: Uint8Array): void;
  /** Closes the connection; no event is delivered for it afterwards. */
  tcpClose(id: number): void;

  /** A resource of the build by name (the manifest's "resources", e.g. "onenet-ca.der"), or undefined. */
  resource(name: string): Uint8Array | undefined;

  /** Persistent key/value storage (survives a simulated reboot when the lane reuses the store). */
  storageGet(key: string): string | undefined;
  storageSet(key: string, value: string | undefined): void;
  storageKeys(prefix: string): string[];

  /**
   * The OTA app slots (ota_0, ota_1) beside the flash file: erase (empties the slot, as esp_ota_begin
   * erases) and write at an offset. The bootloader side (tools/sim/boot.ts) reads them host-side.
   */
  slotErase(slot: string): void;
  slotWrite(slot: string, offset: number, bytes: Uint8Array): void;
  /** The board restarts (esp_restart): the lane delivers nothing more; npm start boots again. */
  restart(): void;

  /** One line of device output (trace), without the trailing newline. */
  log(line: string): void;
  /** The `key=value` configuration (what mcconfig would put in mc/config). */
  config(): Record<string, string>;
  /** A host statistic for `instrumentation` ("System Free Memory", ...), if known. */
  stat(name: string): number | undefined;
  /** A notification for host-side observers (tests, npm start), e.g. ("wifi", "gotIP"). */
  emit(topic: string, detail: string): void;
}

let current: Host | undefined;

/** Installs the lane's host. Called once per lane before firmware modules run. */
export function setHost(host: Host): void {
  current = host;
}

/** The lane's host; throws if no lane installed one (e.g. firmware imported without sim/register.ts). */
export function host(): Host {
  if (current === undefined) {
    throw new Error("sim: no host installed (run through sim/register.ts or the XS lane)");
  }
  return current;
}

/** A handler for a named control: receives the argument string, may return a reply string. */
export type ControlHandler = (arg: string) => string | undefined | void;

const controls = new Map<string, ControlHandler>();

/**
 * Registers a named control that host-side tests can invoke in either lane, e.g. the simulated
 * access point registers "wifi.ap" and a test sends "down" / "up". Re-registering replaces.
 */
export function control(name: string, handler: ControlHandler): void {
  controls.set(name, handler);
}

/** Runs a control by name (called by the lane on a test's request). Unknown names throw. */
export function runControl(name: string, arg: string): string | undefined {
  const handler = controls.get(name);
  if (handler === undefined) throw new Error(`sim: no control named "${name}"`);
  const reply = handler(arg);
  return typeof reply === "string" ? reply : undefined;
}

/** Names of the registered controls, sorted. */
export function controlNames(): string[] {
  return [...controls.keys()].sort();
}
