// CanFrame: one classic CAN 2.0 frame (11- or 29-bit id, 0–8 data bytes,
// remote and error flags), validated at construction, plus candump/cansend
// text form ("3F0#00", "12345678#DEADBEEF", "123#R", "123#R4").

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    CAN_INVALID_FRAME: true;
  }
}

export const CAN_SFF_MASK = 0x7ff;
export const CAN_EFF_MASK = 0x1fffffff;
/** Linux CAN_ERR_FLAG, used in the candump text of error frames. */
export const CAN_ERR_FLAG = 0x20000000;
export const CAN_MAX_DLEN = 8;

export interface CanFrame {
  /** 11-bit (standard) or 29-bit (extended) identifier; for error frames the error class bits. */
  readonly id: number;
  readonly extended: boolean;
  /** Remote transmission request: no data, `dlc` is the requested length. */
  readonly rtr: boolean;
  /** Error frame reported by the controller (Linux CAN_ERR_FLAG). */
  readonly error: boolean;
  /** Data length code, 0–8. Equals data.length except for remote frames. */
  readonly dlc: number;
  readonly data: Uint8Array;
}

export class InvalidFrameError extends CanflashError {
  constructor(
    message: string,
    readonly text?: string,
  ) {
    super("CAN_INVALID_FRAME", message);
  }
}

export interface FrameOptions {
  /** Force the 29-bit format. Default: extended only when the id needs more than 11 bits. */
  extended?: boolean;
  rtr?: boolean;
  error?: boolean;
  /** Remote frames only: the requested data length. */
  dlc?: number;
}

/** Builds a validated frame. Throws InvalidFrameError for out-of-range ids or data over 8 bytes. */
export function canFrame(
  id: number,
  data: ArrayLike<number> = [],
  options: FrameOptions = {},
): CanFrame {
  const error = options.error ?? false;
  const rtr = options.rtr ?? false;
  const extended = options.extended ?? id > CAN_SFF_MASK;
  if (!Number.isInteger(id) || id < 0)
    throw new InvalidFrameError(`CAN id ${id} is not a non-negative integer`);
  if (!error) {
    const max = extended ? CAN_EFF_MASK : CAN_SFF_MASK;
    if (id > max) {
      throw new InvalidFrameError(
        `CAN id 0x${id.toString(16)} does not fit ${extended ? "29" : "11"} bits (max 0x${max.toString(16)})`,
      );
    }
  }
  if (data.length > CAN_MAX_DLEN) {
    throw new InvalidFrameError(
      `CAN frame data is ${data.length} bytes; classic CAN carries at most 8`,
    );
  }
  const bytes = Uint8Array.from(data);
  for (const b of bytes) {
    if (!Number.isInteger(b)) throw new InvalidFrameError("CAN frame data must be bytes");
  }
  if (rtr && bytes.length > 0)
    throw new InvalidFrameError("a remote frame carries no data (give dlc instead)");
  const dlc = rtr ? (options.dlc ?? 0) : bytes.length;
  if (!Number.isInteger(dlc) || dlc < 0 || dlc > CAN_MAX_DLEN)
    throw new InvalidFrameError(`DLC ${dlc} out of range 0–8`);
  return { id, extended, rtr, error, dlc, data: bytes };
}

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, "0");
}

/** candump/cansend text: "123#DEADBEEF", "12345678#00", "123#R", "123#R4", error frames "20000004#...". */
export function formatFrame(frame: CanFrame): string {
  let id: string;
  if (frame.error) id = hex((frame.id | CAN_ERR_FLAG) >>> 0, 8);
  else id = frame.extended ? hex(frame.id, 8) : hex(frame.id, 3);
  if (frame.rtr) return `${id}#R${frame.dlc > 0 ? frame.dlc : ""}`;
  let data = "";
  for (const b of frame.data) data += hex(b, 2);
  return `${id}#${data}`;
}

/**
 * Parses the cansend/candump text form. 3 hex digits = standard id,
 * 8 = extended (with CAN_ERR_FLAG set = error frame). Data may use "." separators.
 */
export function parseFrame(text: string): CanFrame {
  const m = /^([0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})#(R([0-8])?|[0-9A-Fa-f.]*)$/.exec(text.trim());
  if (!m) {
    throw new InvalidFrameError(
      `"${text}" is not a CAN frame; expected <3 or 8 hex digit id>#<hex data>, e.g. 3F0#00`,
      text,
    );
  }
  const idText = m[1]!;
  let id = parseInt(idText, 16);
  const extended = idText.length === 8;
  let error = false;
  if (extended && id & CAN_ERR_FLAG) {
    error = true;
    id = (id & ~CAN_ERR_FLAG) >>> 0;
  }
  const body = m[2]!;
  if (body.startsWith("R")) {
    return canFrame(id, [], { extended, rtr: true, dlc: m[3] ? Number(m[3]) : 0 });
  }
  const digits = body.replaceAll(".", "");
  if (digits.length % 2 !== 0)
    throw new InvalidFrameError(`"${text}": odd number of data hex digits`, text);
  const data: number[] = [];
  for (let i = 0; i < digits.length; i += 2) data.push(parseInt(digits.slice(i, i + 2), 16));
  return canFrame(id, data, { extended, error });
}

export function framesEqual(a: CanFrame, b: CanFrame): boolean {
  if (
    a.id !== b.id ||
    a.extended !== b.extended ||
    a.rtr !== b.rtr ||
    a.error !== b.error ||
    a.dlc !== b.dlc
  ) {
    return false;
  }
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
