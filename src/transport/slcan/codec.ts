// The slcan (Lawicel CAN232/CANUSB) ASCII protocol, pure: frames to and
// from their text form, bitrate commands, status flags, and the split of
// an adapter's output into lines. Every command ends in CR (0x0D); the
// adapter answers each one in order with CR (done), BEL (0x07, refused), or
// a value before the CR ("V1013", "F00"). Lawicel adapters answer a sent
// frame with "z" (standard) or "Z" (extended) before the CR, CANable's
// firmware with a bare CR. Received frames arrive unasked, between answers,
// as the same text a host sends ("t1232AABB"), with a 4-digit millisecond
// timestamp appended when timestamps are on (Z1).

import { canFrame, type CanFrame } from "../../can/frame.js";
import {
  CAN_ERR_BUSERROR,
  CAN_ERR_CRTL,
  CAN_ERR_CRTL_ACTIVE,
  CAN_ERR_CRTL_RX_OVERFLOW,
  CAN_ERR_CRTL_RX_PASSIVE,
  CAN_ERR_CRTL_RX_WARNING,
  CAN_ERR_CRTL_TX_OVERFLOW,
  CAN_ERR_CRTL_TX_PASSIVE,
  CAN_ERR_CRTL_TX_WARNING,
  CAN_ERR_LOSTARB,
} from "../../can/errorframe.js";

export const CR = 0x0d;
export const BEL = 0x07;

/** The longest line an adapter sends: an extended frame with 8 bytes and a timestamp. */
export const SLCAN_MAX_LINE = 30;

/**
 * Lawicel's S0–S8 bitrates. S7 is left out on purpose: it means 800 kbit/s
 * on Lawicel adapters and 750 kbit/s on CANable's firmware, so it cannot be
 * asked for by number without knowing the adapter (give a BTR instead).
 */
export const SLCAN_BITRATES: ReadonlyMap<number, string> = new Map([
  [10_000, "S0"],
  [20_000, "S1"],
  [50_000, "S2"],
  [100_000, "S3"],
  [125_000, "S4"],
  [250_000, "S5"],
  [500_000, "S6"],
  [1_000_000, "S8"],
]);

/** The bitrate an S command sets (S7 as Lawicel defines it), or undefined. */
export function bitrateOfSetup(command: string): number | undefined {
  if (command === "S7") return 800_000;
  for (const [rate, cmd] of SLCAN_BITRATES) if (cmd === command) return rate;
  return undefined;
}

/** The SJA1000 CAN clock (its 16 MHz crystal / 2) that Lawicel's "sxxyy" BTR0/BTR1 values are for, as python-can assumes. */
export const SJA1000_CLOCK_HZ = 8_000_000;

/** The bitrate of BTR0/BTR1 register values at the SJA1000's 8 MHz CAN clock: clock / (BRP × quanta per bit). */
export function bitrateOfBtr(btr0: number, btr1: number): number {
  const brp = (btr0 & 0x3f) + 1;
  const tseg1 = (btr1 & 0x0f) + 1;
  const tseg2 = ((btr1 >> 4) & 0x07) + 1;
  const quanta = 1 + tseg1 + tseg2;
  return Math.round(SJA1000_CLOCK_HZ / (brp * quanta));
}

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, "0");
}

/** The command that sends `frame` ("t1232AABB", "T123456780", "r1230", "R123456784"), without the CR. */
export function encodeFrame(frame: CanFrame): string {
  if (frame.error) throw new RangeError("an error frame cannot be sent");
  const id = frame.extended ? hex(frame.id, 8) : hex(frame.id, 3);
  if (frame.rtr) return `${frame.extended ? "R" : "r"}${id}${frame.dlc}`;
  let data = "";
  for (const b of frame.data) data += hex(b, 2);
  return `${frame.extended ? "T" : "t"}${id}${frame.dlc}${data}`;
}

const HEX = /^[0-9A-Fa-f]*$/;

/**
 * The frame a received line carries ("t1232AABB", with or without a 4-digit
 * timestamp), or undefined when the line is no frame (an answer, garbage).
 */
export function decodeFrame(line: string): CanFrame | undefined {
  const kind = line[0];
  if (kind !== "t" && kind !== "T" && kind !== "r" && kind !== "R") return undefined;
  const extended = kind === "T" || kind === "R";
  const rtr = kind === "r" || kind === "R";
  const idLen = extended ? 8 : 3;
  const dlcChar = line[1 + idLen];
  if (dlcChar === undefined || dlcChar < "0" || dlcChar > "8") return undefined;
  const dlc = Number(dlcChar);
  const body = line.slice(2 + idLen);
  const dataLen = rtr ? 0 : dlc * 2;
  // Exactly the data, or the data and a 4-digit timestamp.
  if (body.length !== dataLen && body.length !== dataLen + 4) return undefined;
  const idText = line.slice(1, 1 + idLen);
  if (!HEX.test(idText) || !HEX.test(body)) return undefined;
  const id = parseInt(idText, 16);
  if (id > (extended ? 0x1fffffff : 0x7ff)) return undefined;
  if (rtr) return canFrame(id, [], { extended, rtr: true, dlc });
  const data: number[] = [];
  for (let i = 0; i < dlc; i++) data.push(parseInt(body.slice(i * 2, i * 2 + 2), 16));
  return canFrame(id, data, { extended });
}

/** One line of adapter output: its text, and whether it ended in BEL (refused) or CR. */
export interface SlcanLine {
  text: string;
  refused: boolean;
}

/**
 * Splits adapter output into lines ending in CR or BEL; keeps a partial
 * line for the next chunk. Bytes past SLCAN_MAX_LINE without an end are
 * garbage (a wrong tty baud) and are cut off as a line of their own.
 */
export class SlcanLineSplitter {
  private partial = "";

  push(bytes: Uint8Array): SlcanLine[] {
    const out: SlcanLine[] = [];
    for (const b of bytes) {
      if (b === CR || b === BEL) {
        out.push({ text: this.partial, refused: b === BEL });
        this.partial = "";
      } else if (b === 0x0a) {
        // LF after CR (some firmwares end lines "\r\n"): nothing to keep
      } else {
        this.partial += String.fromCharCode(b);
        if (this.partial.length > SLCAN_MAX_LINE * 4) {
          out.push({ text: this.partial, refused: false });
          this.partial = "";
        }
      }
    }
    return out;
  }
}

/** Lawicel's status flags (the "F" command's answer, two hex digits). */
export interface SlcanStatus {
  readonly raw: number;
  rxFifoFull: boolean;
  txFifoFull: boolean;
  errorWarning: boolean;
  dataOverrun: boolean;
  errorPassive: boolean;
  arbitrationLost: boolean;
  busError: boolean;
}

export const STATUS_RX_FIFO_FULL = 0x01;
export const STATUS_TX_FIFO_FULL = 0x02;
export const STATUS_ERROR_WARNING = 0x04;
export const STATUS_DATA_OVERRUN = 0x08;
export const STATUS_ERROR_PASSIVE = 0x20;
export const STATUS_ARBITRATION_LOST = 0x40;
export const STATUS_BUS_ERROR = 0x80;

export function statusOf(raw: number): SlcanStatus {
  return {
    raw,
    rxFifoFull: !!(raw & STATUS_RX_FIFO_FULL),
    txFifoFull: !!(raw & STATUS_TX_FIFO_FULL),
    errorWarning: !!(raw & STATUS_ERROR_WARNING),
    dataOverrun: !!(raw & STATUS_DATA_OVERRUN),
    errorPassive: !!(raw & STATUS_ERROR_PASSIVE),
    arbitrationLost: !!(raw & STATUS_ARBITRATION_LOST),
    busError: !!(raw & STATUS_BUS_ERROR),
  };
}

/** The status an "F" answer ("F0A") carries, or undefined when it is no such answer. */
export function decodeStatus(text: string): SlcanStatus | undefined {
  const m = /^F([0-9A-Fa-f]{2})$/.exec(text);
  return m ? statusOf(parseInt(m[1]!, 16)) : undefined;
}

/** Names of the flags set, for messages: ["error-passive", "data-overrun"]. */
export function statusNames(s: SlcanStatus): string[] {
  const names: string[] = [];
  if (s.rxFifoFull) names.push("rx-fifo-full");
  if (s.txFifoFull) names.push("tx-fifo-full");
  if (s.errorWarning) names.push("error-warning");
  if (s.dataOverrun) names.push("data-overrun");
  if (s.errorPassive) names.push("error-passive");
  if (s.arbitrationLost) names.push("arbitration-lost");
  if (s.busError) names.push("bus-error");
  return names;
}

/**
 * The Linux-style controller error frame that says what the status flags
 * say (so readers asking for error frames, and the bus state, see it):
 * CAN_ERR_CRTL with the overflow/warning/passive bits (or "active again"
 * when no state flag is set), plus bus-error and lost-arbitration classes.
 */
export function errorFrameOfStatus(s: SlcanStatus): CanFrame {
  let id = CAN_ERR_CRTL;
  let crtl = 0;
  if (s.dataOverrun || s.rxFifoFull) crtl |= CAN_ERR_CRTL_RX_OVERFLOW;
  if (s.txFifoFull) crtl |= CAN_ERR_CRTL_TX_OVERFLOW;
  if (s.errorPassive) crtl |= CAN_ERR_CRTL_RX_PASSIVE | CAN_ERR_CRTL_TX_PASSIVE;
  else if (s.errorWarning) crtl |= CAN_ERR_CRTL_RX_WARNING | CAN_ERR_CRTL_TX_WARNING;
  else crtl |= CAN_ERR_CRTL_ACTIVE;
  if (s.busError) id |= CAN_ERR_BUSERROR;
  if (s.arbitrationLost) id |= CAN_ERR_LOSTARB;
  const data = [0, crtl, 0, 0, 0, 0, 0, 0];
  return canFrame(id, data, { error: true, extended: false });
}
