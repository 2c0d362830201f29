// @moddable/typings types mc/config as Record<string, any>. mcconfig turns each `key=value` into a
// string property; manifest "config" entries may also be numbers or booleans.
declare module "mc/config" {
  const config: { readonly [key: string]: string | number | boolean | undefined };
  export default config;
}
