// `npm start [-- key=value …]`: boots the firmware (main.ts) in the real XS engine on the real clock,
// with simulated Wi-Fi, sensors and flash. Without host=, it also starts the local OneNET emulator
// (emulator/index.ts; an in-process aedes broker if that is missing) and points the device at it.
// Prints the device log as a serial monitor would. Ctrl-C stops cleanly. An exception at boot prints
// the XS error with module and line and exits 1.
//
// Keys: the firmware's (ssid, password, product, device, key, host, port, interval, …; see DESIGN.md)
// plus simulator-only ones: entry=<module> (default main.ts), flash=<file> (preference storage;
// default in the OS temp dir per product/device, so a restart is a reboot with the same flash),
// fresh=1 (start with empty flash), emulator-http=<port> (console port, default 0 = any free).
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkdirSync, rmSync, existsSync } from "node:fs";
import { XsLane, FirmwareError } from "./xs-lane.ts";

/** Demo identity for the local emulator (never a real device's). */
export const DEMO = {
  ssid: "sim-ap",
  password: "sim-password",
  product: "AbCdEf1234",
  device: "device-001",
  // base64 of the 32 ASCII bytes "onenet-xs-simulator-demo-key-001"
  key: "b25lbmV0LXhzLXNpbXVsYXRvci1kZW1vLWtleS0wMDE=",
  interval: "5",
  board: "xs-simulator",
};

const SIM_KEYS = new Set(["entry", "flash", "fresh", "emulator-http"]);
const SECRET_KEYS = new Set(["password", "key", "token"]);

export function parseArgs(argv: string[]): { config: Record<string, string>; sim: Record<string, string> } {
  const config: Record<string, string> = {};
  const sim: Record<string, string> = {};
  for (const raw of argv) {
    if (raw === "--") continue;
    const arg = raw.replace(/^--?/, "");
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new Error(`argument "${raw}" is not key=value`);
    const name = arg.slice(0, eq);
    const value = arg.slice(eq + 1);
    if (SIM_KEYS.has(name)) sim[name] = value;
    else config[name] = value;
  }
  return { config, sim };
}

interface Broker {
  host: string;
  port: number;
  consoleUrl?: string;
  close(): Promise<void>;
}

async function startBroker(config: Record<string, string>, httpPort: number, say: (line: string) => void): Promise<Broker> {
  const device = { product: config.product, device: config.device, key: config.key };
  if (existsSync(new URL("../emulator/index.ts", import.meta.url))) {
    const { startEmulator } = await import("../emulator/index.ts");
    const emulator = await startEmulator({
      host: "127.0.0.1",
      port: 0,
      httpPort,
      devices: [device],
      log: (line: string) => say(`[onenet] ${line}`),
    });
    return { host: "127.0.0.1", port: emulator.port, consoleUrl: emulator.consoleUrl, close: () => emulator.close() };
  }
  // Fallback: a plain embedded MQTT broker (no OneNET rules).
  const { Aedes } = await import("aedes");
  const { createServer } = await import("node:net");
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  say(`[broker] aedes listening on 127.0.0.1:${port} (emulator/index.ts not found)`);
  return {
    host: "127.0.0.1",
    port,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}

function shown(config: Record<string, string>): string {
  return Object.keys(config)
    .sort()
    .map((k) => `${k}=${SECRET_KEYS.has(k) ? "***" : config[k]}`)
    .join(" ");
}

export async function main(argv: string[]): Promise<number> {
  const { config: given, sim } = parseArgs(argv);
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const config: Record<string, string> = { ...DEMO, ...given };
  let broker: Broker | undefined;
  if (given.host === undefined) {
    broker = await startBroker(config, Number(sim["emulator-http"] ?? 0), out);
    config.host = broker.host;
    config.port = String(broker.port);
    if (broker.consoleUrl) out(`[sim] OneNET emulator console: ${broker.consoleUrl}`);
  }
  const flashDir = join(tmpdir(), "onenet-xs-sim");
  mkdirSync(flashDir, { recursive: true });
  const flash = sim.flash ?? join(flashDir, `${config.product ?? "product"}-${config.device ?? "device"}.json`);
  if (sim.fresh === "1") rmSync(flash, { force: true });
  out(`[sim] booting ${sim.entry ?? "main.ts"} in XS: ${shown(config)} flash=${flash}`);

  let lane: XsLane | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<number> => {
    if (stopping) return code;
    stopping = true;
    await lane?.close();
    await broker?.close().catch(() => {});
    return code;
  };
  // Ctrl-C may come at any time, also while the firmware boots.
  let interrupted: (() => void) | undefined;
  const signalled = new Promise<void>((resolve) => (interrupted = resolve));
  const onSignal = (): void => interrupted?.();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    lane = await XsLane.start({ entry: sim.entry ?? "main.ts", clock: "real", config, storagePath: flash, onLog: out });
  } catch (error) {
    if (error instanceof FirmwareError) {
      process.stderr.write(`[sim] firmware exception at boot: ${error.message}\n${error.xsStack}\n`);
    } else {
      process.stderr.write(`[sim] could not start the firmware: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    return stop(1);
  }

  const running = lane;
  return new Promise<number>((resolve) => {
    void signalled.then(() => {
      out("[sim] stopping");
      void stop(0).then(resolve);
    });
    const watch = setInterval(() => {
      if (stopping) clearInterval(watch);
      else if (running.fatal) {
        clearInterval(watch);
        process.stderr.write(`[sim] firmware exception: ${running.fatal.message}\n${running.fatal.xsStack}\n`);
        void stop(1).then(resolve);
      }
    }, 50);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`[sim] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
