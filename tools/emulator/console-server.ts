// The web console's HTTP side: static page (console/), JSON API and a server-sent-event stream.
// README.md ("HTTP API") documents every route with its request and response.
//   GET  /                  the page (console/index.html, console.js, console.css; no external assets)
//   GET  /api/state         {model, devices}
//   GET  /api/events        text/event-stream of EmulatorEvent objects ("data: {...}")
//   POST /api/set           {product, device, params: {id: value}} -> SetResult (waits for set_reply)
//   POST /api/get           {product, device, params: [id, ...]}   -> SetResult with data
//   POST /api/disconnect    {product, device}                       -> {ok} (closes the device's link)
//   POST /api/ota           {version, image: base64, product?}      -> {ok, task} (starts an OTA task)
//   /fuse-ota/...           OneNET's OTA API for devices (ota-http.ts): token in Authorization instead
//                           of the console's Host/Origin/JSON rules, which a device cannot meet
//
// Any web page the developer has open can send requests to a port on 127.0.0.1, and a name the
// attacker controls can be re-pointed at 127.0.0.1 (DNS rebinding). So every request must name this
// console in Host, and a write must also be JSON (a cross-origin page cannot send that without a
// preflight we never grant) and, when the browser says where it comes from, come from this console.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { listen, urlHost } from "./listen.ts";
import { OTA_STEPS } from "./ota.ts";
import { OTA_PREFIX } from "./ota-http.ts";
import { isNumericType, type ThingModel } from "./thing-model.ts";
import type { DeviceView, EmulatorEvent, OtaTask, SetResult } from "./types.ts";

export interface ConsoleBackend {
  model: ThingModel;
  events: EventEmitter;
  devices(): DeviceView[];
  set(product: string, device: string, params: unknown): Promise<SetResult>;
  get(product: string, device: string, ids: unknown): Promise<SetResult>;
  disconnect(product: string, device: string): boolean;
  /** Requests under /fuse-ota/. */
  fuseOta(req: IncomingMessage, res: ServerResponse): void;
  otaTasks(): OtaTask[];
  startOta(image: Uint8Array, version: string, product?: string): OtaTask;
}

/** An image for POST /api/ota, base64 in JSON: room for a 1.625 MB OTA slot with plenty to spare. */
const OTA_UPLOAD_LIMIT = 16 * 1024 * 1024;

export interface ConsoleServer {
  port: number;
  close(): Promise<void>;
}

const STATIC: Record<string, [file: string, type: string]> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/console.js": ["console.js", "text/javascript; charset=utf-8"],
  "/console.css": ["console.css", "text/css; charset=utf-8"],
};

const WRITES = new Set(["POST /api/set", "POST /api/get", "POST /api/disconnect", "POST /api/ota"]);

/** The Host header values that name this console: loopback names, the address it listens on, and
 * when it listens on every interface, each interface's address. */
export function consoleHosts(host: string, port: number): Set<string> {
  const names = new Set(["127.0.0.1", "localhost", "[::1]"]);
  if (host === "0.0.0.0" || host === "::") {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) names.add(urlHost(a.address));
    }
  } else {
    names.add(urlHost(host));
  }
  const hosts = new Set<string>();
  for (const name of names) {
    hosts.add(`${name}:${port}`.toLowerCase());
    if (port === 80) hosts.add(name.toLowerCase());
  }
  return hosts;
}

/** Why this request is refused (403), or undefined when it may proceed. */
export function refusal(req: IncomingMessage, route: string, hosts: ReadonlySet<string>): string | undefined {
  const host = req.headers.host?.toLowerCase();
  if (!host || !hosts.has(host)) return "Host is not this console (DNS rebinding?)";
  if (!WRITES.has(route)) return undefined;
  const type = req.headers["content-type"]?.split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") return "writes need Content-Type: application/json";
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const url = URL.canParse(origin) ? new URL(origin) : undefined;
    if (!url || url.protocol !== "http:" || url.origin !== origin.toLowerCase() || !hosts.has(url.host.toLowerCase())) {
      return "Origin is not this console";
    }
  }
  return undefined;
}

function modelView(model: ThingModel): unknown {
  return {
    properties: [...model.properties.values()].map((p) => ({
      identifier: p.identifier,
      name: p.name,
      type: p.dataType.type,
      numeric: isNumericType(p.dataType),
      writable: p.writable,
      unit: p.unit,
      min: p.min,
      max: p.max,
      step: p.step,
      labels: p.labels,
    })),
    events: [...model.events.values()].map((e) => ({ identifier: e.identifier, name: e.name, output: e.output.map((o) => o.identifier) })),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error("body too large"));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startConsole(backend: ConsoleBackend, port: number, host: string): Promise<ConsoleServer> {
  const dir = new URL("./console/", import.meta.url);
  const files = new Map<string, Buffer>();
  for (const [file] of Object.values(STATIC)) files.set(file, readFileSync(new URL(file, dir)));
  const streams = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let hosts: ReadonlySet<string> = new Set();

  const onEvent = (event: EmulatorEvent): void => {
    const line = `data: ${JSON.stringify(event)}\n\n`;
    for (const res of streams) res.write(line);
  };
  backend.events.on("event", onEvent);
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(": ping\n\n");
  }, 15000);
  heartbeat.unref();

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://console");
    const route = `${req.method} ${url.pathname}`;
    if (url.pathname.startsWith(OTA_PREFIX)) return backend.fuseOta(req, res);
    const refused = refusal(req, route, hosts);
    if (refused) {
      sendJson(res, 403, { ok: false, error: refused });
      return;
    }
    const page = STATIC[url.pathname];
    if (req.method === "GET" && page) {
      res.writeHead(200, { "content-type": page[1], "cache-control": "no-store" });
      res.end(files.get(page[0]));
      return;
    }
    if (route === "GET /api/state") {
      sendJson(res, 200, { model: modelView(backend.model), devices: backend.devices(), ota: { tasks: backend.otaTasks(), steps: OTA_STEPS } });
      return;
    }
    if (route === "POST /api/ota") {
      readBody(req, OTA_UPLOAD_LIMIT)
        .then((text) => {
          let body: { version?: unknown; image?: unknown; product?: unknown };
          try {
            body = (JSON.parse(text) ?? {}) as typeof body;
          } catch {
            return sendJson(res, 400, { ok: false, error: "body is not JSON" });
          }
          if (typeof body.image !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(body.image)) {
            return sendJson(res, 400, { ok: false, error: "image must be base64" });
          }
          if (typeof body.version !== "string") return sendJson(res, 400, { ok: false, error: "version is required" });
          if (body.product !== undefined && typeof body.product !== "string") return sendJson(res, 400, { ok: false, error: "product must be a string" });
          try {
            const task = backend.startOta(Buffer.from(body.image, "base64"), body.version, body.product);
            return sendJson(res, 200, { ok: true, task });
          } catch (error) {
            return sendJson(res, 400, { ok: false, error: (error as Error).message });
          }
        })
        .catch((error: Error) => sendJson(res, 500, { ok: false, error: error.message }));
      return;
    }
    if (route === "GET /api/events") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      res.write("retry: 1000\n\n");
      streams.add(res);
      req.on("close", () => streams.delete(res));
      return;
    }
    if (WRITES.has(route)) {
      readBody(req)
        .then((text) => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            return sendJson(res, 400, { ok: false, error: "body is not JSON" });
          }
          const b = (body ?? {}) as { product?: unknown; device?: unknown; params?: unknown };
          if (typeof b.product !== "string" || typeof b.device !== "string") {
            return sendJson(res, 400, { ok: false, error: "product and device are required" });
          }
          if (route === "POST /api/disconnect") {
            const ok = backend.disconnect(b.product, b.device);
            return sendJson(res, 200, ok ? { ok } : { ok, error: "device not online" });
          }
          const op = route === "POST /api/set" ? backend.set : backend.get;
          return op(b.product, b.device, b.params).then((result) => sendJson(res, 200, result));
        })
        .catch((error: Error) => sendJson(res, 500, { ok: false, error: error.message }));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const actual = await listen(server, port, host);
  hosts = consoleHosts(host, actual);
  return {
    port: actual,
    close() {
      backend.events.off("event", onEvent);
      clearInterval(heartbeat);
      for (const res of streams) res.end();
      streams.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
