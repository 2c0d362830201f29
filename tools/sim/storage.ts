// Host-side persistent storage behind `preference` (and anything else that persists): a JSON file,
// written through on every change, so a new lane opened on the same file sees the same data
// (a simulated reboot). Without a path it lives in memory only.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";

export class Storage {
  readonly path: string | undefined;
  readonly #data = new Map<string, string>();
  writes = 0;

  constructor(path?: string) {
    this.path = path;
    if (path !== undefined && existsSync(path)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(path, "utf8"));
      } catch {
        // Not the parser's message: it quotes the file's text.
        throw new Error(`flash file ${path} is not valid JSON (delete it, or start with fresh=1)`);
      }
      if (typeof parsed !== "object" || parsed === null) throw new Error(`flash file ${path} is not a JSON object (delete it, or start with fresh=1)`);
      for (const [key, value] of Object.entries(parsed)) if (typeof value === "string") this.#data.set(key, value);
    }
  }

  get(key: string): string | undefined {
    return this.#data.get(key);
  }

  set(key: string, value: string | undefined): void {
    if (value === undefined) this.#data.delete(key);
    else this.#data.set(key, value);
    this.writes++;
    this.#flush();
  }

  keys(prefix: string): string[] {
    return [...this.#data.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.#data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  #flush(): void {
    if (this.path === undefined) return;
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.snapshot(), null, 1));
    renameSync(tmp, this.path);
  }
}
