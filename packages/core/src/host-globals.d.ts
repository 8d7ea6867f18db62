/**
 * Core compiles without Node's types (`"types": []`): `process`, `Buffer`, `performance`,
 * timers and `node:` modules do not exist here. These are the only host globals it uses, both
 * standard outside Node too (WHATWG Encoding, HTML structured clone) and neither a clock.
 */
declare class TextDecoder {
  constructor(label?: 'utf-8', options?: { readonly fatal?: boolean; readonly ignoreBOM?: boolean });
  decode(input: Uint8Array): string;
}

declare function structuredClone<T>(value: T): T;
