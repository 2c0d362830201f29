// Imported before main.ts by bench/xs-profile.ts's entry: the simulator's stand-ins at the cost of a
// call (./standins.ts, as the bench's firmware figure has them), and every method of the firmware's
// classes on the report and reply paths metered.
import "./standins.ts";
import { meterAll, metered, profileJson, setResidue } from "./profiler.ts";
import App from "../../app/app.ts";
import Sensors from "../../drivers/sensors.ts";
import AHT20 from "../../drivers/aht20.ts";
import BMP280 from "../../drivers/bmp280.ts";
import Board from "../../drivers/board.ts";
import WiFiManager from "../../drivers/wifi.ts";
import { ReadingLog } from "../../store/ring.ts";
import { Uplink } from "../../store/uplink.ts";
import { OneNetClient } from "../../onenet/client.ts";
import { OneNetDevice } from "../../onenet/device.ts";
import { Topics } from "../../onenet/topics.ts";
import { IdCounter } from "../../onenet/payload.ts";
import { MqttClient } from "../../mqtt/client.ts";
import { Session } from "../../mqtt/session.ts";
import { Outbox } from "../../mqtt/outbox.ts";
import { Decoder } from "../../mqtt/decode.ts";
import { Encoder } from "../../mqtt/encode.ts";
import { PreferenceStorage } from "../../mqtt/storage.ts";
import { Log } from "../../lib/log.ts";
import { Uptime } from "../../lib/time.ts";
const classes: [string, { prototype: object }][] = [
  ["App", App], ["Sensors", Sensors], ["AHT20", AHT20], ["BMP280", BMP280], ["I2CSensor", { prototype: Object.getPrototypeOf(AHT20.prototype) as object }],
  ["Board", Board], ["WiFiManager", WiFiManager], ["ReadingLog", ReadingLog], ["Uplink", Uplink],
  ["OneNetClient", OneNetClient], ["OneNetDevice", OneNetDevice], ["Topics", Topics], ["IdCounter", IdCounter],
  ["MqttClient", MqttClient], ["Session", Session], ["Outbox", Outbox], ["Decoder", Decoder], ["Encoder", Encoder],
  ["PreferenceStorage", PreferenceStorage], ["Log", Log], ["Uptime", Uptime],
];
for (const [name, c] of classes) meterAll(name, c.prototype);
const g = globalThis as unknown as {
  trace: (...parts: unknown[]) => void;
  handleCommand: (message: ArrayBuffer) => ArrayBuffer;
  __profileNoop: () => void;
};
g.handleCommand = metered("crank", g.handleCommand as (this: unknown, ...args: unknown[]) => unknown) as (message: ArrayBuffer) => ArrayBuffer;
// For calibration: the cost a wrapped call leaves outside the bookkeeping.
g.__profileNoop = metered("noop", () => undefined) as () => void;
(globalThis as unknown as { __profileJson: () => string }).__profileJson = profileJson;
(globalThis as unknown as { __profileResidue: (c: number) => void }).__profileResidue = setResidue;
