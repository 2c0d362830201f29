// OneNET's fuse-ota HTTP API (docs/onenet.md, "OTA"), served by the console's HTTP server under
// /fuse-ota/ and by the HTTPS API listener. Devices are not browsers: no Origin or Content-Type rules,
// but every request must carry the device's token (the MQTT password format) as Authorization.
//
//   POST /fuse-ota/{pid}/{device}/version         {"s_version":"1.2.0"}      -> code 0
//   GET  /fuse-ota/{pid}/{device}/check?type=&version=                      -> code 0 + task, or 11 not exist
//   GET  /fuse-ota/{pid}/{device}/{tid}/download  [Range: bytes=s-e]         -> 200 / 206 bytes, 416
//   POST /fuse-ota/{pid}/{device}/{tid}/status    {"step":N}                 -> code 0
// Every JSON answer is {"code","msg","request_id"[,"data"]}; code 0 = ok.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isOtaStep, isOtaVersion, type Ota } from "./ota.ts";
import type { DeviceState, Registry } from "./registry.ts";
import { isRecord } from "./thing-model.ts";
import { LOGIN_CODES, verifyToken } from "./token.ts";

export const OTA_PREFIX = "/fuse-ota/";
/** Request bodies are tiny JSON objects; anything larger is refused unread. */
export const OTA_BODY_LIMIT = 1024;

/** The API's non-zero codes (ours except 11, which OneNET gives for "no task"). */
export const OTA_CODES = {
  ok: 0,
  noTask: 11,
  badRequest: 10400,
  auth: 10401,
  notFound: 10404,
  range: 10416,
  internal: 10500,
} as const;

type Route =
  | { op: "version" | "check"; product: string; device: string }
  | { op: "download" | "status"; product: string; device: string; tid: number };

/** The route a method and path name, or undefined (404) for anything else. */
export function otaRoute(method: string | undefined, pathname: string): Route | undefined {
  if (!pathname.startsWith(OTA_PREFIX)) return undefined;
  let parts: string[];
  try {
    parts = pathname.slice(OTA_PREFIX.length).split("/").map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
  if (parts.some((p) => p === "")) return undefined;
  const [product, device] = parts as [string, string];
  if (parts.length === 3) {
    if (parts[2] === "version" && method === "POST") return { op: "version", product, device };
    if (parts[2] === "check" && method === "GET") return { op: "check", product, device };
    return undefined;
  }
  if (parts.length === 4 && /^\d{1,15}$/.test(parts[2]!)) {
    const tid = Number(parts[2]);
    if (parts[3] === "download" && method === "GET") return { op: "download", product, device, tid };
    if (parts[3] === "status" && method === "POST") return { op: "status", product, device, tid };
  }
  return undefined;
}

/** A single `bytes=` range over `size` bytes: [start, end] inclusive, or undefined when unsatisfiable. */
export function parseRange(header: string, size: number): [number, number] | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return undefined;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return undefined;
  }
  return start < size ? [start, end] : undefined;
}

function answer(res: ServerResponse, status: number, code: number, msg: string, data?: unknown): void {
  const body: Record<string, unknown> = { code, msg, request_id: randomBytes(16).toString("hex") };
  if (data !== undefined) body.data = data;
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** The body as JSON, or the reason it is refused (over OTA_BODY_LIMIT, not a JSON object). */
function readJson(req: IncomingMessage): Promise<Record<string, unknown> | string> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > OTA_BODY_LIMIT) return Promise.resolve(`body over ${OTA_BODY_LIMIT} bytes`);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > OTA_BODY_LIMIT) {
        done = true;
        resolve(`body over ${OTA_BODY_LIMIT} bytes`);
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return resolve("body is not JSON");
      }
      resolve(isRecord(body) ? body : "body is not a JSON object");
    });
    req.on("error", () => {
      if (!done) resolve("request aborted");
      done = true;
    });
  });
}

/** The request handler for paths under OTA_PREFIX. */
export function otaHandler(registry: Registry, ota: Ota): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(registry, ota, req, res).catch((error: Error) => {
      registry.log("WARN", "fuse-ota error", error.message);
      if (!res.headersSent) answer(res, 500, OTA_CODES.internal, "internal error");
      else res.destroy();
    });
  };
}

async function handle(registry: Registry, ota: Ota, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://api");
  const route = otaRoute(req.method, url.pathname);
  if (!route) return answer(res, 404, OTA_CODES.notFound, "not found");
  const verdict = verifyToken({
    token: req.headers.authorization,
    product: route.product,
    device: route.device,
    keyFor: (level, p, d) => registry.keyFor(level, p, d),
    nowSeconds: Math.floor(registry.clock.now() / 1000),
  });
  const device = registry.get(route.product, route.device);
  if (!verdict.ok || !device) {
    const why = verdict.ok ? "no such device" : `${verdict.code} ${LOGIN_CODES[verdict.code]}`;
    registry.log("WARN", `fuse-ota ${route.op} refused: auth failed (${why})`, `product=${route.product} device=${route.device}`);
    registry.deviceLog(device, "warn", `ota ${route.op} refused: auth failed (${why})`);
    return answer(res, 401, OTA_CODES.auth, "auth failed");
  }
  const bad = (why: string): void => {
    registry.deviceLog(device, "warn", `ota ${route.op} refused: ${why}`, true);
    // a body left unread would be drained by the server; one over the limit is not worth reading
    if (why.startsWith("body over")) res.setHeader("connection", "close");
    answer(res, 400, OTA_CODES.badRequest, `bad request: ${why}`);
  };

  switch (route.op) {
    case "version": {
      const body = await readJson(req);
      if (typeof body === "string") return bad(body);
      if (!isOtaVersion(body.s_version)) return bad("s_version must be 1..32 letters, digits, '.', '_' or '-'");
      ota.reportVersion(device, body.s_version, "version");
      return answer(res, 200, OTA_CODES.ok, "succ");
    }
    case "check": {
      const type = url.searchParams.get("type");
      const version = url.searchParams.get("version");
      if (type !== "1" && type !== "2") return bad("type must be 1 or 2");
      if (!isOtaVersion(version)) return bad("version must be 1..32 letters, digits, '.', '_' or '-'");
      ota.reportVersion(device, version, "check");
      const task = ota.offer(device, version);
      ota.checked(device, task);
      if (!task) return answer(res, 200, OTA_CODES.noTask, "not exist");
      return answer(res, 200, OTA_CODES.ok, "succ", { target: task.target, tid: task.tid, size: task.size, md5: task.md5, status: 1, type: task.type });
    }
    case "download":
      return download(registry, ota, device, route.tid, req, res);
    case "status": {
      const task = ota.taskFor(device);
      if (!task || task.tid !== route.tid) {
        registry.deviceLog(device, "warn", `ota status refused: no task ${route.tid}`, true);
        return answer(res, 404, OTA_CODES.notFound, "task not exist");
      }
      const body = await readJson(req);
      if (typeof body === "string") return bad(body);
      if (!isOtaStep(body.step)) return bad(`step ${JSON.stringify(body.step)} is not 0..107 or 201..207`);
      ota.step(device, task, body.step);
      return answer(res, 200, OTA_CODES.ok, "succ");
    }
  }
}

function download(registry: Registry, ota: Ota, device: DeviceState, tid: number, req: IncomingMessage, res: ServerResponse): void {
  const image = ota.imageFor(device, tid);
  if (!image) {
    registry.deviceLog(device, "warn", `ota download refused: no task ${tid}`, true);
    return answer(res, 404, OTA_CODES.notFound, "task not exist");
  }
  const size = image.byteLength;
  const header = req.headers.range;
  if (header === undefined) {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size), "accept-ranges": "bytes", "cache-control": "no-store" });
    res.end(image);
    ota.downloaded(device, 0, size - 1, size);
    return;
  }
  const range = parseRange(header, size);
  if (!range) {
    registry.deviceLog(device, "warn", `ota download refused: range ${header} of ${size} bytes (416)`, true);
    res.setHeader("content-range", `bytes */${size}`);
    return answer(res, 416, OTA_CODES.range, "range not satisfiable");
  }
  const [start, end] = range;
  res.writeHead(206, {
    "content-type": "application/octet-stream",
    "content-length": String(end - start + 1),
    "content-range": `bytes ${start}-${end}/${size}`,
    "accept-ranges": "bytes",
    "cache-control": "no-store",
  });
  res.end(image.subarray(start, end + 1));
  ota.downloaded(device, start, end, size);
}
