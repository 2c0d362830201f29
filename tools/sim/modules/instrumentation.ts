// Moddable "instrumentation": Instrumentation.map(name) -> index, get(index) -> value. Values come
// from the host (XS heap figures in the XS lane) or from the shims themselves (timers, sockets).
import { host } from "../host.ts";
import { activeTimers } from "./timer.ts";
import { openSockets, socketBytes } from "./socket.ts";

const NAMES = [
  "Pixels Drawn",
  "Frames Drawn",
  "Network Bytes Read",
  "Network Bytes Written",
  "Network Sockets",
  "Timers",
  "Files",
  "Poco Display List Used",
  "Piu Command List Used",
  "Turns",
  "CPU 0",
  "CPU 1",
  "System Free Memory",
  "XS Slot Heap Used",
  "XS Chunk Heap Used",
  "XS Keys Used",
  "XS Garbage Collection Count",
  "XS Modules Loaded",
  "XS Stack Used",
  "XS Promises Settled",
] as const;

const Instrumentation = {
  map(name: string): number | undefined {
    const i = (NAMES as readonly string[]).indexOf(name);
    return i < 0 ? undefined : i + 1;
  },
  name(what: number | undefined): string | undefined {
    return what === undefined ? undefined : NAMES[what - 1];
  },
  get(what: number | undefined): number | undefined {
    const name = Instrumentation.name(what);
    if (name === undefined) return undefined;
    switch (name) {
      case "Timers":
        return activeTimers();
      case "Network Sockets":
        return openSockets();
      case "Network Bytes Read":
        return socketBytes().read;
      case "Network Bytes Written":
        return socketBytes().written;
      default:
        return host().stat(name);
    }
  },
};

export default Instrumentation;
