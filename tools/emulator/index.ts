// A local OneNET: an MQTT 3.1.1 broker (aedes) behind a gate that enforces what the platform enforces
// (docs/onenet.md), a OneJSON responder checking payloads against the thing model, and an HTTP
// console. The public entry point: tools, tests and `npm start` import from here.
//
//   server.ts          broker + console servers; startEmulator wires the parts below
//   gate.ts            the platform's rules on each device connection, in front of aedes
//   platform.ts        the platform's answers: post/event replies, property set/get from the cloud
//   registry.ts        registered devices, their state and log, the event stream
//   console-server.ts  the console's HTTP API and page (console/)
//   ota.ts, ota-http.ts OTA tasks and notices; OneNET's fuse-ota HTTP API
//   types.ts           the shapes they share
export { startEmulator } from "./server.ts";
export type {
  DeviceEntry,
  DeviceLogLine,
  DeviceView,
  Emulator,
  EmulatorEvent,
  EmulatorOptions,
  OtaState,
  OtaTask,
  ProductEntry,
  PropertyValue,
  SetResult,
  ThingEventRecord,
} from "./types.ts";
export { VirtualClock, realClock, type Clock } from "./clock.ts";
export { makeToken, verifyToken, tokenSignature } from "./token.ts";
