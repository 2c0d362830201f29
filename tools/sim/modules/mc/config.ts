// Moddable "mc/config": the `key=value` pairs given to mcconfig, here given to the simulator
// (npm start -- key=value..., or a test's lane options). Values are strings, as mcconfig makes them.
import { host } from "../../host.ts";

const config: { readonly [key: string]: string | number | boolean | undefined } = host().config();

export default config;
