// Node-lane module resolve hook (registered by sim/register.ts): a bare Moddable specifier such as
// "socket", "timer" or "mc/config" imported by firmware resolves to its host implementation in
// sim/modules/ (map: sim/specifiers.json). Plain JS because hooks run on the loader thread, before tsx.
import { existsSync, readFileSync } from "node:fs";


const modulesUrl = new URL("./modules/", import.meta.url);
const listed = JSON.parse(readFileSync(new URL("./specifiers.json", import.meta.url), "utf8"));

export async function resolve(specifier, context, nextResolve) {
  // Only for our own files: packages asking for Node's own "http" or "net" get Node's.
  const ours = context.parentURL === undefined || !context.parentURL.includes("/node_modules/");
  const rel = ours && Object.prototype.hasOwnProperty.call(listed, specifier) ? listed[specifier] : undefined;
  if (rel !== undefined) {
    const url = new URL(rel, modulesUrl);
    if (existsSync(url)) return nextResolve(url.href, context);
  }
  return nextResolve(specifier, context);
}
