// The servers: an MQTT 3.1.1 broker (aedes) whose device sockets pass through the gate, wired to the
// platform responder, and the HTTP console. startEmulator puts them together and takes them down.
import { Aedes } from "aedes";
import { createServer } from "node:net";
import { LIMITS } from "../../onenet/config.ts";
import { startConsole, type ConsoleServer } from "./console-server.ts";
import { Gate } from "./gate.ts";
import { listen, urlHost } from "./listen.ts";
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
  };
  // No Nagle: a PUBACK and the post reply behind it go at once, not 40 ms apart (delayed ACK), which
  // would dominate a virtual-clock run (tools/soak) and slow every test that talks to the emulator.
  const mqttServer = createServer({ noDelay: true }, (socket) => b.handle(gate.accept(socket)));
  let port: number;
  let consoleServer: ConsoleServer;
  try {
    port = await listen(mqttServer, options.port ?? 0, host);
    consoleServer = await startConsole({ model, events: registry.events, ...cloud }, options.httpPort ?? 0, host);
  } catch (error) {
    mqttServer.close();
    await new Promise<void>((resolve) => b.close(() => resolve()));
    throw error;
  }
  const brokerUrl = `mqtt://${urlHost(host)}:${port}`;
  const consoleUrl = `http://${urlHost(host)}:${consoleServer.port}/`;
  registry.log("INFO", "started", `broker=${brokerUrl} console=${consoleUrl} devices=${registry.devices.size} model=${thingModelPath}`);

  let closing: Promise<void> | undefined;
  return {
    brokerUrl,
    consoleUrl,
    port,
    httpPort: consoleServer.port,
    model,
    thingModelPath,
    events: registry.events,
    devices: cloud.devices,
    setProperties: cloud.set,
    getProperties: cloud.get,
    disconnect: cloud.disconnect,
    close() {
      closing ??= (async () => {
        for (const device of registry.devices.values()) platform.failPending(device, "emulator closed");
        const mqttClosed = new Promise<void>((resolve) => mqttServer.close(() => resolve()));
        gate.closeAll();
        await new Promise<void>((resolve) => b.close(() => resolve()));
        await consoleServer.close();
        await mqttClosed;
      })();
      return closing;
    },
  };
}
