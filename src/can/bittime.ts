// How long a classic CAN frame occupies the wire. Computed exactly rather
// than estimated: the frame's bits from SOF to the end of the CRC field are
// built (with the real CRC-15), stuff bits are counted, and the fixed tail
// (CRC delimiter, ACK slot and delimiter, end of frame) plus the 3-bit
// intermission is added.

import type { CanFrame } from "./frame.js";

const CRC15_POLY = 0x4599;
/** CRC delimiter (1) + ACK slot (1) + ACK delimiter (1) + EOF (7). */
const TAIL_BITS = 10;
/** Intermission between frames. */
export const INTERFRAME_BITS = 3;

function pushBits(out: number[], value: number, count: number): void {
  for (let i = count - 1; i >= 0; i--) out.push((value >>> i) & 1);
}

/** The unstuffed bits from SOF through the CRC sequence. */
export function frameBitsBeforeStuffing(frame: CanFrame): number[] {
  const bits: number[] = [0]; // SOF
  const rtr = frame.rtr ? 1 : 0;
  if (frame.extended) {
    pushBits(bits, frame.id >>> 18, 11);
    bits.push(1, 1); // SRR, IDE
    pushBits(bits, frame.id & 0x3ffff, 18);
    bits.push(rtr, 0, 0); // RTR, r1, r0
  } else {
    pushBits(bits, frame.id, 11);
    bits.push(rtr, 0, 0); // RTR, IDE, r0
  }
  pushBits(bits, frame.dlc, 4);
  if (!frame.rtr) for (const b of frame.data) pushBits(bits, b, 8);
  let crc = 0;
  for (const bit of bits) {
    const next = bit ^ ((crc >>> 14) & 1);
    crc = (crc << 1) & 0x7fff;
    if (next) crc ^= CRC15_POLY;
  }
  pushBits(bits, crc, 15);
  return bits;
}

/** Number of stuff bits the transmitter inserts into `bits` (after five equal bits, one opposite bit). */
export function countStuffBits(bits: readonly number[]): number {
  let stuffed = 0;
  let last = -1;
  let run = 0;
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    if (b === last) run++;
    else {
      last = b;
      run = 1;
    }
    if (run === 5) {
      // The inserted opposite bit starts the next run (also after the last CRC bit).
      stuffed++;
      last = 1 - b;
      run = 1;
    }
  }
  return stuffed;
}

/** Total bits the frame occupies on the wire, including stuffing and the 3-bit intermission. */
export function frameWireBits(frame: CanFrame): number {
  if (frame.error) return 14 + 8 + INTERFRAME_BITS; // error flag + delimiter, a rough occupancy
  const bits = frameBitsBeforeStuffing(frame);
  return bits.length + countStuffBits(bits) + TAIL_BITS + INTERFRAME_BITS;
}

/** Wire time of the frame in milliseconds at `bitrate` bit/s. */
export function frameWireTimeMs(frame: CanFrame, bitrate: number): number {
  return (frameWireBits(frame) * 1000) / bitrate;
}

/**
 * Arbitration order: lower wins. Standard frames beat extended frames with
 * the same 11-bit base id (SRR/IDE are recessive); data frames beat remote.
 */
export function arbitrationKey(frame: CanFrame): number {
  if (!frame.extended) return (frame.id & 0x7ff) * 2 ** 21 + (frame.rtr ? 2 ** 20 : 0);
  return (frame.id >>> 18) * 2 ** 21 + 2 ** 20 + (frame.id & 0x3ffff) * 2 + (frame.rtr ? 1 : 0);
}
