// CAN node UUIDs: 6 bytes, printed as 12 lowercase hex digits in wire order
// (as canbus_query.py and flashtool print them), derived from the chip's
// unique id with fasthash64 (seed 0xA16231A7, low 6 bytes, least significant
// first). The same derivation maps a Klipper/Katapult USB serial number to
// the CAN UUID of that chip.

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    INVALID_UUID: true;
  }
}

declare const uuidBrand: unique symbol;
/** A validated CAN UUID: 12 lowercase hex digits. */
export type Uuid = string & { readonly [uuidBrand]: true };

export class InvalidUuidError extends CanflashError {
  constructor(readonly input: string) {
    super(
      "INVALID_UUID",
      `"${input}" is not a CAN UUID: expected 12 hex digits (6 bytes), e.g. aabbccddeeff`,
    );
  }
}

/** Parses a UUID as users type it: 12 hex digits, any case, optional ":" or "-" separators, an optional 0x (as flashtool takes it). */
export function parseUuid(text: string): Uuid {
  const digits = text.trim().replace(/^0x/i, "").replace(/[:-]/g, "").toLowerCase();
  if (!/^[0-9a-f]{12}$/.test(digits)) throw new InvalidUuidError(text);
  return digits as Uuid;
}

export function isUuid(text: string): boolean {
  return /^[0-9a-f]{12}$/.test(text);
}

/** The 6 wire bytes of a UUID. */
export function uuidBytes(uuid: Uuid): Uint8Array {
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[i] = parseInt(uuid.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A UUID from 6 wire bytes (leading zeros kept). */
export function uuidFromBytes(bytes: ArrayLike<number>): Uuid {
  if (bytes.length !== 6) throw new RangeError(`a CAN UUID is 6 bytes, got ${bytes.length}`);
  let s = "";
  for (let i = 0; i < 6; i++) s += (bytes[i]! & 0xff).toString(16).padStart(2, "0");
  return s as Uuid;
}

const M64 = 0xffffffffffffffffn;
const FH_M = 0x880355f21e6d1965n;

function mix(x: bigint): bigint {
  x ^= x >> 23n;
  x = (x * 0x2127599bf4325c37n) & M64;
  x ^= x >> 47n;
  return x;
}

/** fasthash64 (Zilong Tan) over `data` with `seed`. */
export function fasthash64(data: Uint8Array, seed: bigint): bigint {
  let h = (seed ^ ((BigInt(data.length) * FH_M) & M64)) & M64;
  let i = 0;
  for (; i + 8 <= data.length; i += 8) {
    let v = 0n;
    for (let j = 7; j >= 0; j--) v = (v << 8n) | BigInt(data[i + j]!);
    h ^= mix(v);
    h = (h * FH_M) & M64;
  }
  if (i < data.length) {
    let v = 0n;
    for (let j = data.length - 1; j >= i; j--) v = (v << 8n) | BigInt(data[j]!);
    h ^= mix(v);
    h = (h * FH_M) & M64;
  }
  return mix(h);
}

export const CANBUS_UUID_SEED = 0xa16231a7n;

/** The CAN UUID Klipper and Katapult derive from a chip id. */
export function uuidFromChipId(chipId: Uint8Array): Uuid {
  const h = fasthash64(chipId, CANBUS_UUID_SEED);
  const bytes: number[] = [];
  for (let i = 0n; i < 6n; i++) bytes.push(Number((h >> (8n * i)) & 0xffn));
  return uuidFromBytes(bytes);
}

/**
 * The CAN UUID of the chip behind a Klipper/Katapult USB serial number (the
 * chip id in hex, the default). Undefined when the serial is not hex.
 */
export function uuidFromUsbSerial(serial: string): Uuid | undefined {
  if (!/^([0-9a-fA-F]{2})+$/.test(serial)) return undefined;
  const bytes = Uint8Array.from(serial.match(/../g)!.map((h) => parseInt(h, 16)));
  return uuidFromChipId(bytes);
}
