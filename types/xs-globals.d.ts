// The one XS global the firmware uses. @moddable/typings' xs.d.ts is deliberately not included: it
// also declares String.fromArrayBuffer and ArrayBuffer.fromString, which only Moddable's device
// hosts provide (not xsnap), so code using them would type-check and then fail in the XS lane.
declare const trace: (...log: (string | number | boolean)[]) => void;
