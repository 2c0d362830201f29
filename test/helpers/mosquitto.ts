// Starts a private mosquitto (Debian package) on a free loopback port for a test, configured not to
// throttle a fast client: unlimited in-flight and queued messages (the defaults, 20 in flight and
// 1000 queued, stall or drop a fast publisher). Persistence is off unless asked for; with it on, the
// database lives in a temporary directory and a graceful restart keeps sessions (SIGTERM saves it).
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface MosquittoOptions {
  /** Keep sessions and queued messages across restart() (default false). */
  persistence?: boolean;
  /** Extra configuration lines. */
  extra?: string[];
}

export interface Mosquitto {
  readonly port: number;
  readonly host: "127.0.0.1";
  /** Stops the broker (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Kills the broker (SIGKILL: no goodbye, no persistence save). */
  kill(): Promise<void>;
  /** Starts it again on the same port (after stop or kill). */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** Stops the broker and removes its temporary directory. */
  close(): Promise<void>;
  /** Whatever mosquitto wrote to stderr. */
  readonly output: string[];
}

export function mosquittoPath(): string | undefined {
  for (const p of ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]) if (existsSync(p)) return p;
  return undefined;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs = 15000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const bin = mosquittoPath();
  if (!bin) throw new Error("mosquitto is not installed (apt-get install mosquitto)");
  const dir = mkdtempSync(join(tmpdir(), "mosq-"));
  // Run as root, mosquitto drops to the "mosquitto" user: let it write its database here.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const config = [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    "max_inflight_messages 0",
    "max_queued_messages 0",
    "max_queued_bytes 0",
    "set_tcp_nodelay true",
    `persistence ${options.persistence ? "true" : "false"}`,
    `persistence_location ${dir}/`,
    "autosave_interval 0",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    ...(options.extra ?? []),
  ];
  writeFileSync(join(dir, "mosquitto.conf"), config.join("\n") + "\n");
  const output: string[] = [];
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const proc = spawn(bin, ["-c", join(dir, "mosquitto.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
    child = proc;
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) => reject(new Error(`mosquitto exited (${code}): ${output.join("")}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitForPort(port), exited]);
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await done;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    host: "127.0.0.1",
    output,
    start,
    stop: async () => {
      await halt("SIGTERM");
    },
    kill: async () => {
      await halt("SIGKILL");
    },
    restart: async () => {
      await halt("SIGTERM");
      await start();
    },
    close: async () => {
      await halt("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

