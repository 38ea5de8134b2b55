// The SD card's SPI-mode framing, pure (SD Physical Layer Simplified
// Specification, SPI mode): 6-byte command frames closed by a CRC7, the R1
// status bits, data tokens and data-response tokens, and the CRC16 (XMODEM
// polynomial 0x1021, init 0) on 512-byte data blocks. Shared by the host
// side (sd-host.ts) and the card model (src/sim/sdcard/).

import crc16xmodem from "crc/calculators/crc16xmodem";

/** The sector every SDHC/SDXC card reads and writes; SDSC cards are set to it with CMD16. */
export const SD_BLOCK = 512;

export const Cmd = {
  GO_IDLE_STATE: 0,
  SEND_IF_COND: 8,
  SEND_CSD: 9,
  SEND_CID: 10,
  SEND_STATUS: 13,
  SET_BLOCKLEN: 16,
  READ_SINGLE_BLOCK: 17,
  WRITE_BLOCK: 24,
  APP_CMD: 55,
  READ_OCR: 58,
  CRC_ON_OFF: 59,
  /** ACMD41 (after CMD55). */
  SD_SEND_OP_COND: 41,
} as const;

/** R1 status bits. */
export const R1 = {
  IDLE: 0x01,
  ERASE_RESET: 0x02,
  ILLEGAL_COMMAND: 0x04,
  CRC_ERROR: 0x08,
  ERASE_SEQUENCE: 0x10,
  ADDRESS_ERROR: 0x20,
  PARAMETER_ERROR: 0x40,
} as const;

/** Start token of a single-block read or write. */
export const START_BLOCK = 0xfe;
/** Data-response tokens (low 5 bits) after a written block. */
export const DATA_ACCEPTED = 0x05;
export const DATA_CRC_ERROR = 0x0b;
export const DATA_WRITE_ERROR = 0x0d;
/** CMD8's check pattern and the "2.7–3.6 V accepted" nibble. */
export const IF_COND_PATTERN = 0xaa;
export const IF_COND_VHS = 0x01;
/** ACMD41: the host supports high-capacity cards. */
export const ACMD41_HCS = 0x40000000;
/** OCR bits: power-up done, card capacity status (SDHC/SDXC: block addressing). */
export const OCR_BUSY_DONE = 0x80000000;
export const OCR_CCS = 0x40000000;

/** CRC7 (polynomial x^7 + x^3 + 1) over `bytes`, as a 7-bit value. */
export function crc7(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const inBit = (b >> bit) & 1;
      const top = (crc >> 6) & 1;
      crc = (crc << 1) & 0x7f;
      if (inBit ^ top) crc ^= 0x09;
    }
  }
  return crc;
}

/** CRC16 of a data block (CRC-16/XMODEM). */
export function crc16(data: Uint8Array): number {
  return crc16xmodem(data, 0);
}

/** A command frame: 01 + index, the 32-bit argument big-endian, CRC7 and the end bit. */
export function commandFrame(cmd: number, arg: number): Uint8Array {
  const f = new Uint8Array(6);
  f[0] = 0x40 | (cmd & 0x3f);
  f[1] = (arg >>> 24) & 0xff;
  f[2] = (arg >>> 16) & 0xff;
  f[3] = (arg >>> 8) & 0xff;
  f[4] = arg & 0xff;
  f[5] = (crc7(f.subarray(0, 5)) << 1) | 1;
  return f;
}

export interface ParsedCommand {
  cmd: number;
  arg: number;
  /** The frame's CRC7 matches its first five bytes. */
  crcOk: boolean;
  /** Start bits 01 and end bit 1 in place. */
  framed: boolean;
}

/** Reads a 6-byte frame as the card sees it. */
export function parseCommand(f: Uint8Array): ParsedCommand {
  const arg = ((f[1]! << 24) | (f[2]! << 16) | (f[3]! << 8) | f[4]!) >>> 0;
  return {
    cmd: f[0]! & 0x3f,
    arg,
    crcOk: f[5]! >> 1 === crc7(f.subarray(0, 5)),
    framed: (f[0]! & 0xc0) === 0x40 && (f[5]! & 1) === 1,
  };
}

/** A data packet: start token, the block, CRC16 big-endian. */
export function dataPacket(block: Uint8Array): Uint8Array {
  const p = new Uint8Array(block.length + 3);
  p[0] = START_BLOCK;
  p.set(block, 1);
  const c = crc16(block);
  p[block.length + 1] = c >> 8;
  p[block.length + 2] = c & 0xff;
  return p;
}

/** Names the set bits of an R1 for messages: "idle, illegal command". */
export function describeR1(r1: number): string {
  const names: string[] = [];
  if (r1 & R1.IDLE) names.push("idle");
  if (r1 & R1.ERASE_RESET) names.push("erase reset");
  if (r1 & R1.ILLEGAL_COMMAND) names.push("illegal command");
  if (r1 & R1.CRC_ERROR) names.push("CRC error");
  if (r1 & R1.ERASE_SEQUENCE) names.push("erase sequence error");
  if (r1 & R1.ADDRESS_ERROR) names.push("address error");
  if (r1 & R1.PARAMETER_ERROR) names.push("parameter error");
  return names.length ? names.join(", ") : "ready";
}
