// TLS to OneNET: the options the MQTT client hands to `SecureSocket` (types/securesocket.d.ts). TLS 1.2
// with OneNET's own CA pinned (docs/onenet.md, "TLS"), the way OneNET's official SDKs connect: the
// certificate is a resource in flash (manifest "resources": certs/onenet-ca.der), read when the
// client is built.

import Resource from "Resource";
import type { SecureOptions } from "securesocket";

/** The resource holding OneNET's CA (C=CN, O=CMIOT, CN=OneNET MQTTS), DER. */
export const CA_RESOURCE = "onenet-ca.der";
/** TLS 1.2, the version OneNET's SDKs use and the highest the Moddable SDK speaks. */
export const TLS_1_2 = 0x0303;

/**
 * TLS options trusting only OneNET's CA (or the CA in `resource`). Throws when the resource is missing.
 * `serverName` replaces the host name the SDK sends as SNI and checks against the server certificate's
 * subjectAltName (docs/onenet.md, "TLS": what to do when that check fails); the CA is checked either way.
 */
export function onenetTls(resource: string = CA_RESOURCE, serverName?: string): SecureOptions {
  const options: SecureOptions = { protocolVersion: TLS_1_2, certificate: new Resource(resource) };
  if (serverName !== undefined) options.serverName = serverName;
  return options;
}
