// The firmware's entry module: boot banner -> config validation -> Wi-Fi -> sensors -> time ->
// OneNET session -> report timer. Runs unchanged on the board, in the Moddable simulator and under
// `npm start`. Nothing here may end the app: every callback runs inside `guard()`, which logs an
// exception and carries on.

import config from "mc/config";
import Time from "time";
import Timer from "timer";
import { configureLog, describe, error, info, parseLevel, secret, warn } from "./log";
import { configSummary, describeProblems, LIMITS, validateConfig, type AppConfig } from "./app-config";
import { boardName, VERSION } from "./app-info";
import { LED_DRIVER, openLed, setLed } from "./app-led";
import { CLOCK_SOURCE } from "./app-clock";
import { loadInterval } from "./app-settings";

configureLog({ ticks: () => Time.ticks });

/** Runs `fn`, logging instead of propagating an exception: the app loop never dies. */
function guard(area: string, what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    error(area, what + " failed", { error: describe(e) });
  }
}

/** Boot stopped: say so once now and again every minute (for a monitor attached later); do nothing else. */
function idle(reason: string): void {
  Timer.repeat(() => {
    error("app", "boot stopped, idle", { reason });
  }, 60_000);
}

function boot(): void {
  info("app", "boot", { version: VERSION, board: boardName(), led: LED_DRIVER, clock: CLOCK_SOURCE });
  const checked = validateConfig(config);
  if (!checked.ok) {
    error("config", "boot stopped, fix these keys and rebuild: " + describeProblems(checked.problems));
    idle("config");
    return;
  }
  const cfg: AppConfig = checked.config;
  secret(cfg.password);
  secret(cfg.key);
  const level = parseLevel(cfg.loglevel);
  if (level) configureLog({ level });
  info("config", "ok", configSummary(cfg));

  openLed(cfg.led, cfg.ledInvert);
  const interval = loadInterval(cfg.interval, LIMITS.interval.min, LIMITS.interval.max);
  info("app", "report interval", { seconds: interval.seconds, source: interval.source });
  if (cfg.led !== undefined) setLed(false);
  warn("app", "network not started: Wi-Fi and OneNET integration pending");
}

guard("app", "boot", boot);
