// Just enough source-map reading to turn an XS stack line "(bundle.js:123)" back into
// "(mqtt/client.ts:45)": for each generated line, the first mapping's source file and line.
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export interface RawSourceMap {
  sources: string[];
  mappings: string;
}

export class LineMap {
  readonly #lines: Array<[number, number] | undefined> = [];
  readonly #sources: string[];

  constructor(map: RawSourceMap, root: string) {
    this.#sources = map.sources.map((s) => relativeTo(s, root));
    const values = new Map<string, number>();
    for (let i = 0; i < B64.length; i++) values.set(B64[i], i);
    let source = 0;
    let origLine = 0;
    const lines = map.mappings.split(";");
    for (let gen = 0; gen < lines.length; gen++) {
      let first: [number, number] | undefined;
      for (const segment of lines[gen].split(",")) {
        if (segment === "") continue;
        const fields: number[] = [];
        let value = 0;
        let shift = 0;
        for (const ch of segment) {
          const digit = values.get(ch) ?? 0;
          value += (digit & 31) << shift;
          if (digit & 32) shift += 5;
          else {
            fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
            value = 0;
            shift = 0;
          }
        }
        if (fields.length >= 4) {
          source += fields[1];
          origLine += fields[2];
          if (first === undefined) first = [source, origLine];
        }
      }
      this.#lines[gen] = first;
    }
  }

  /** 1-based generated line -> "file:line" (1-based), or undefined. */
  lookup(line: number): string | undefined {
    const hit = this.#lines[line - 1];
    if (hit === undefined) return undefined;
    return `${this.#sources[hit[0]]}:${hit[1] + 1}`;
  }

  /** Rewrites every "(<file>:<line>)" of `bundleName` in an XS stack. */
  rewriteStack(stack: string, bundleName: string): string {
    const pattern = new RegExp(`\\(${bundleName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:(\\d+)\\)`, "g");
    return stack.replace(pattern, (whole, n: string) => {
      const at = this.lookup(Number(n));
      return at === undefined ? whole : `(${at})`;
    });
  }
}

function relativeTo(source: string, root: string): string {
  let s = source.replace(/^file:\/\//, "");
  if (!s.startsWith("/") && !s.startsWith(".")) s = `/${s}`;
  const prefix = root.endsWith("/") ? root : `${root}/`;
  if (s.startsWith(prefix)) s = s.slice(prefix.length);
  while (s.startsWith("../") && s.includes("/sim/")) s = s.slice(3);
  return s;
}
