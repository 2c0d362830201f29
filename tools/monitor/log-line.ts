// The firmware's log line (lib/log.ts formatLine), read back on the host: `npm run monitor` colours and
// filters by its fields, and `npm start` watches them for the line that says boot stopped.

export type Level = "DEBUG" | "INFO" | "WARN" | "ERROR";

export interface LogLine {
  uptime: number;
  level: Level;
  area: string;
  message: string;
}

const LOG_LINE = /^(\d+) (DEBUG|INFO|WARN|ERROR) ([^\s:]+): ?(.*)$/;

/** Parses one firmware log line; undefined for anything else (boot ROM output, raw traces…). */
export function parseLine(line: string): LogLine | undefined {
  const m = LOG_LINE.exec(line);
  if (!m) return undefined;
  return { uptime: Number(m[1]), level: m[2] as Level, area: m[3], message: m[4] };
}
