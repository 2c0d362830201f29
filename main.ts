// The firmware's entry module: boot banner -> config validation -> the app (Wi-Fi, sensors, clock,
// OneNET session, report timer; app/app.ts). Runs unchanged on the board, in the Moddable simulator
// and under `npm start`.
//
// Bad configuration stops boot with one line that names every bad key, then the app idles (no crash,
// no reboot loop).

import config from "mc/config";
import Time from "time";
import Timer from "timer";
import { describe, Log, parseLevel } from "./lib/log";
import { Uptime } from "./lib/time";
import { configSummary, describeProblems, validateConfig } from "./app/config";
import { boardName, runningVersion } from "./app/info";
import App from "./app/app";
import Led from "platform/led";
import Clock from "platform/clock";
import i2c from "platform/i2c";
import simulated from "platform/sensor";
import openFlash from "platform/flash";
import openOta from "platform/ota";

// One clock for every interval in the firmware: the board's tick wraps after 49.7 days (lib/time.ts).
const uptime = new Uptime(() => Time.ticks);
const log = new Log({ uptime });

/** Boot stopped: say so now and again every minute (for a monitor attached later); nothing else runs. */
function idle(reason: string): void {
  Timer.repeat(() => {
    log.error("app", "boot stopped, idle", { reason });
  }, 60_000);
}

function boot(): void {
  log.info("app", "boot", { version: runningVersion(), board: boardName(), gpio: Led.driver, clock: Clock.source });
  const checked = validateConfig(config);
  if (!checked.ok) {
    log.error("config", "boot stopped, fix these keys and rebuild: " + describeProblems(checked.problems));
    idle("config");
    return;
  }
  const cfg = checked.config;
  log.secret(cfg.password);
  log.secret(cfg.key);
  const level = parseLevel(cfg.loglevel);
  if (level) log.level = level;
  log.info("config", "ok", configSummary(cfg));
  if (!cfg.tls) {
    log.warn("config", "tls=0: MQTT over plain TCP, the login token and every report cross the network unencrypted", { host: cfg.host, port: cfg.port });
  }
  try {
    new App(cfg, {
      log,
      uptime,
      led: new Led({ gpio: cfg.led, invert: cfg.ledInvert, log }),
      clock: new Clock({ server: cfg.sntp, log }),
      i2c,
      extraSensor: simulated,
      flash: openFlash,
      ota: openOta,
    });
  } catch (e) {
    log.error("app", "boot failed, idle", { error: describe(e) });
    idle("boot");
  }
}

try {
  boot();
} catch (e) {
  log.error("app", "boot failed", { error: describe(e) });
}
