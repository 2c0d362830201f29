// The servers: an MQTT 3.1.1 broker (aedes) whose device sockets pass through the gate, wired to the
// platform responder, and the HTTP console. startEmulator puts them together and takes them down.
import { Aedes } from "aedes";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createServer, type Server } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { LIMITS } from "../../onenet/config.ts";
import { startConsole, type ConsoleServer } from "./console-server.ts";
import { Gate } from "./gate.ts";
import { listen, urlHost } from "./listen.ts";
import { Ota } from "./ota.ts";
import { OTA_PREFIX, otaHandler } from "./ota-http.ts";
import { makeTestPki, type TestPki } from "./pki.ts";
import { Platform } from "./platform.ts";
import { Registry } from "./registry.ts";
import { defaultThingModelPath, loadThingModel } from "./thing-model.ts";
import type { Emulator, EmulatorOptions } from "./types.ts";

export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const host = options.host ?? "127.0.0.1";
  const thingModelPath = options.thingModelPath ?? defaultThingModelPath();
  const model = loadThingModel(thingModelPath);
  const registry = new Registry(options);
  let broker: Aedes | undefined;
  const platform = new Platform(registry, model, {
    replyTimeoutMs: options.replyTimeoutMs ?? 10000,
    historyLimit: options.historyLimit ?? 500,
    publish: (topic, payload) => broker?.publish({ cmd: "publish", topic, payload, qos: 0, retain: false, dup: false }, () => {}),
  });
  const ota = new Ota(registry, platform);
  platform.route("ota/inform_reply", (device, payload) => ota.informReply(device, payload));
  const fuseOta = otaHandler(registry, ota);
  const gate = new Gate(registry, options.uplinkIntervalMs ?? 1000, (device) => platform.failPending(device, "device went offline before replying"));
  const b = await Aedes.createBroker({
    authenticate: (client, username, password, done) => gate.authenticate(client, username, password, done),
    authorizeSubscribe: (client, sub, callback) => gate.authorizeSubscribe(client, sub, callback),
    authorizePublish: (_client, _packet, callback) => callback(null),
    keepaliveLimit: LIMITS.keepalive.max,
    maxClientsIdLength: 256,
  });
  broker = b;
  b.on("clientReady", (client) => gate.clientReady(client));
  b.on("keepaliveTimeout", (client) => gate.keepaliveTimeout(client));
  b.on("publish", (packet, client) => {
    const device = gate.connOf(client)?.device;
    if (device) platform.uplink(device, packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
  });

  // What the console and the API both offer.
  const cloud = {
    devices: () => platform.views(),
    set: (product: string, device: string, params: unknown) => platform.command(product, device, "set", params),
    get: (product: string, device: string, ids: unknown) => platform.command(product, device, "get", ids),
    disconnect: (product: string, device: string) => gate.kick(product, device),
    fuseOta,
    otaTasks: () => ota.tasks(),
    startOta: (image: Uint8Array, version: string, product?: string) => ota.startTask(image, version, product === undefined ? undefined : [product]),
  };
  // No Nagle: a PUBACK and the post reply behind it go at once, not 40 ms apart (delayed ACK), which
  // would dominate a virtual-clock run (tools/soak) and slow every test that talks to the emulator.
  const mqttServer = createServer({ noDelay: true }, (socket) => b.handle(gate.accept(socket)));
  // TLS as OneNET offers it (docs/onenet.md, "TLS"): 1.2 at least; the gate sees the decrypted stream.
  let pki: TestPki | undefined;
  let tlsServer: Server | undefined;
  let tlsPort: number | undefined;
  let tlsCaPath: string | undefined;
  let apiServer: HttpsServer | undefined;
  let apiTlsPort: number | undefined;
  let port: number;
  let consoleServer: ConsoleServer;
  try {
    port = await listen(mqttServer, options.port ?? 0, host);
    let material = options.tls;
    if (options.tlsPort !== undefined || options.apiTlsPort !== undefined) {
      if (material === undefined) {
        pki = makeTestPki();
        material = { chain: pki.server.chain, key: pki.server.key, caPath: pki.ca.certPath };
      }
      tlsCaPath = material.caPath;
    }
    if (options.tlsPort !== undefined && material) {
      tlsServer = createTlsServer({ cert: material.chain, key: material.key, minVersion: "TLSv1.2" }, (socket) => b.handle(gate.accept(socket)));
      tlsServer.on("tlsClientError", (error: Error & { code?: string }) => registry.log("WARN", "TLS handshake failed", `${error.code ?? ""} ${error.message}`.trim()));
      tlsPort = await listen(tlsServer, options.tlsPort, host);
    }
    // The fuse-ota API over HTTPS, as OneNET serves it on iot-api.heclouds.com:443; nothing else there.
    if (options.apiTlsPort !== undefined && material) {
      apiServer = createHttpsServer({ cert: material.chain, key: material.key, minVersion: "TLSv1.2" }, (req, res) => {
        if (new URL(req.url ?? "/", "https://api").pathname.startsWith(OTA_PREFIX)) return fuseOta(req, res);
        res.writeHead(404, { "content-type": "application/json; charset=utf-8" });
        res.end(JSON.stringify({ code: 10404, msg: "not found" }));
      });
      apiServer.on("tlsClientError", (error: Error & { code?: string }) => registry.log("WARN", "API TLS handshake failed", `${error.code ?? ""} ${error.message}`.trim()));
      apiTlsPort = await listen(apiServer, options.apiTlsPort, host);
    }
    consoleServer = await startConsole({ model, events: registry.events, ...cloud }, options.httpPort ?? 0, host);
  } catch (error) {
    mqttServer.close();
    tlsServer?.close();
    apiServer?.close();
    pki?.remove();
    await new Promise<void>((resolve) => b.close(() => resolve()));
    throw error;
  }
  const brokerUrl = `mqtt://${urlHost(host)}:${port}`;
  const brokerTlsUrl = tlsPort === undefined ? undefined : `mqtts://${urlHost(host)}:${tlsPort}`;
  const consoleUrl = `http://${urlHost(host)}:${consoleServer.port}/`;
  const apiUrl = `http://${urlHost(host)}:${consoleServer.port}`;
  const apiTlsUrl = apiTlsPort === undefined ? undefined : `https://${urlHost(host)}:${apiTlsPort}`;
  const tlsLine = brokerTlsUrl === undefined ? "" : ` tls=${brokerTlsUrl}`;
  const apiLine = ` api=${apiUrl}${apiTlsUrl === undefined ? "" : " api-tls=" + apiTlsUrl}${tlsCaPath === undefined ? "" : " ca=" + tlsCaPath}`;
  registry.log("INFO", "started", `broker=${brokerUrl}${tlsLine} console=${consoleUrl}${apiLine} devices=${registry.devices.size} model=${thingModelPath}`);

  let closing: Promise<void> | undefined;
  return {
    brokerUrl,
    consoleUrl,
    port,
    brokerTlsUrl,
    tlsPort,
    tlsCaPath,
    tlsCa: tlsCaPath === undefined ? undefined : readFileSync(tlsCaPath, "utf8"),
    httpPort: consoleServer.port,
    apiUrl,
    apiTlsUrl,
    apiTlsPort,
    model,
    thingModelPath,
    events: registry.events,
    devices: cloud.devices,
    setProperties: cloud.set,
    getProperties: cloud.get,
    disconnect: cloud.disconnect,
    startOta: (image, version, product) => cloud.startOta(image, version, product),
    otaState(device, product) {
      const matches = [...registry.devices.values()].filter((d) => d.entry.device === device && (product === undefined || d.entry.product === product));
      if (matches.length !== 1) throw new Error(matches.length ? `device ${device} is in several products: name one` : `no device ${product ?? "?"}/${device}`);
      return ota.state(matches[0]!);
    },
    otaTasks: () => ota.tasks(),
    close() {
      closing ??= (async () => {
        for (const device of registry.devices.values()) platform.failPending(device, "emulator closed");
        const mqttClosed = new Promise<void>((resolve) => mqttServer.close(() => resolve()));
        const tlsClosed = new Promise<void>((resolve) => (tlsServer ? tlsServer.close(() => resolve()) : resolve()));
        const apiClosed = new Promise<void>((resolve) => (apiServer ? apiServer.close(() => resolve()) : resolve()));
        apiServer?.closeAllConnections();
        gate.closeAll();
        await new Promise<void>((resolve) => b.close(() => resolve()));
        await consoleServer.close();
        await mqttClosed;
        await tlsClosed;
        await apiClosed;
        pki?.remove();
      })();
      return closing;
    },
  };
}
