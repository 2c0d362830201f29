// What to check when OneNET refuses the login, by CONNACK return code [MQTT-3.2.2.3]. OneNET answers
// bad credentials with 4; the console's device log gives the exact reason (docs/onenet.md).

export const CONNACK_HINTS: { readonly [code: number]: string } = Object.freeze({
  1: "the broker does not speak MQTT 3.1.1: is host/port a OneNET MQTT endpoint?",
  2: "client id refused: device must be the device name exactly as in the console",
  3: "server unavailable: retry later, or check host/port",
  4: "product/device/key: product id, device name and device key (base64) from the console; " +
    "device log codes 1103 invalid token, 1104 token expired (et), 1106 signature mismatch (key, method), " +
    "1107 device not found, 1114 clientId/username do not match res",
  5: "not authorized: is the device enabled in the console, and under this product?",
});
