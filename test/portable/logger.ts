// A Logger (lib/log.ts) that hands every line to a function, for tests that collect what a layer logs.
// Pure, so the portable suites use it inside XS too. Every level is enabled.
import type { Fields, Level, Logger } from "../../lib/log";

export function logTo(write: (level: Level, area: string, message: string, fields?: Fields) => unknown): Logger {
  return {
    log(level: Level, area: string, message: string, fields?: Fields): void {
      write(level, area, message, fields);
    },
    enabled(): boolean {
      return true;
    },
  };
}
