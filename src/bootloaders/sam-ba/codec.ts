// SAM-BA monitor commands and replies, pure (sam-ba.md §3): ASCII commands
// of one letter, `%08X` hex fields, `,` before the second value, `#` to
// execute; the version text and its Arduino extension letters; the `Z`
// checksum reply; CRC-16/XMODEM; and the XMODEM-CRC blocks that carry `S`
// and `R` data on a UART. Shared by the host session and the device models.

import crc16xmodem from "crc/calculators/crc16xmodem";

const hex8 = (n: number): string => (n >>> 0).toString(16).toUpperCase().padStart(8, "0");
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The command texts, as bossac writes them. */
export const Command = {
  /** Binary mode (no echo, raw data): the first command of every session. */
  normal: () => ascii("N#"),
  /** Terminal mode (echo, prompts, hex text): never used by the host, only seen in models. */
  terminal: () => ascii("T#"),
  version: () => ascii("V#"),
  readByte: (addr: number) => ascii(`o${hex8(addr)},4#`),
  readHalf: (addr: number) => ascii(`h${hex8(addr)},2#`),
  readWord: (addr: number) => ascii(`w${hex8(addr)},4#`),
  writeByte: (addr: number, v: number) =>
    ascii(`O${hex8(addr)},${(v & 0xff).toString(16).toUpperCase().padStart(2, "0")}#`),
  writeHalf: (addr: number, v: number) =>
    ascii(`H${hex8(addr)},${(v & 0xffff).toString(16).toUpperCase().padStart(4, "0")}#`),
  writeWord: (addr: number, v: number) => ascii(`W${hex8(addr)},${hex8(v)}#`),
  /** `n` bytes of data follow (raw on USB, XMODEM on a UART). */
  send: (addr: number, n: number) => ascii(`S${hex8(addr)},${hex8(n)}#`),
  /** `n` bytes come back (raw on USB, XMODEM on a UART). */
  receive: (addr: number, n: number) => ascii(`R${hex8(addr)},${hex8(n)}#`),
  /** SP from [addr], PC from [addr + 4]; the monitor resumes when the routine returns. */
  go: (addr: number) => ascii(`G${hex8(addr)}#`),
  /** Arduino extension: erase from `addr` to the end of flash; answers `X\n\r`. */
  chipErase: (addr: number) => ascii(`X${hex8(addr)}#`),
  /** Arduino extension: the RAM source buffer of the next `Y` write; answers `Y\n\r`. */
  setBuffer: (addr: number) => ascii(`Y${hex8(addr)},0#`),
  /** Arduino extension: copy `n` bytes of the buffer to flash at `addr` (no erase); answers `Y\n\r`. */
  writeBuffer: (addr: number, n: number) => ascii(`Y${hex8(addr)},${hex8(n)}#`),
  /** Arduino extension: CRC-16/XMODEM of `n` bytes at `addr`; answers `Z` + 8 hex + `#\n\r`. */
  checksum: (addr: number, n: number) => ascii(`Z${hex8(addr)},${hex8(n)}#`),
} as const;

/** The 3 bytes `X` and `Y` answer with ("X\n\r", "Y\n\r"). */
export const ackOf = (letter: "X" | "Y"): Uint8Array => ascii(`${letter}\n\r`);
/** Length of the `Z` reply: "Z" + 8 hex digits + "#\n\r". */
export const CHECKSUM_REPLY_LENGTH = 12;

/** CRC-16/XMODEM (poly 0x1021, init 0, MSB first): the `Z` checksum and the XMODEM block CRC. */
export function crc16Xmodem(data: Uint8Array, previous = 0): number {
  return data.length === 0 ? previous : crc16xmodem(data, previous);
}

export interface MonitorVersion {
  /** The printable start of the `V#` answer ("v2.0 [Arduino:XYZ] Jun  1 2016 12:00:00"). */
  text: string;
  /** Arduino extension letters between `[Arduino:` and `]` ("XYZ"); empty for a ROM monitor. */
  extensions: string;
  canChipErase: boolean;
  canWriteBuffer: boolean;
  canChecksum: boolean;
}

const isPrintable = (b: number) => b >= 0x20 && b < 0x7f;

/** Parses a `V#` answer: its printable prefix, and the extension letters it announces. */
export function parseVersion(reply: Uint8Array): MonitorVersion {
  let n = 0;
  while (n < reply.length && isPrintable(reply[n]!)) n++;
  const text = new TextDecoder().decode(reply.subarray(0, n));
  const m = /\[Arduino:([A-Za-z]*)\]/.exec(text);
  const extensions = m ? m[1]! : "";
  return {
    text,
    extensions,
    canChipErase: extensions.includes("X"),
    canWriteBuffer: extensions.includes("Y"),
    canChecksum: extensions.includes("Z"),
  };
}

/** The CRC in a `Z` reply ("Z0000ABCD#\n\r"), or undefined when it is not one. */
export function parseChecksumReply(reply: Uint8Array): number | undefined {
  const text = new TextDecoder().decode(reply);
  const m = /^Z([0-9A-Fa-f]{8})#/.exec(text);
  return m ? Number.parseInt(m[1]!, 16) & 0xffff : undefined;
}

/** A little-endian 32-bit value from the first 4 bytes. */
export const le32 = (b: Uint8Array, at = 0): number =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** A value as 4 little-endian bytes. */
export const toLe32 = (v: number): Uint8Array =>
  Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);

// XMODEM-CRC, 128-byte blocks (sam-ba.md §3): SOH, block number, its
// complement, data, CRC high, CRC low. The receiver starts with 'C'.
export const Xmodem = {
  SOH: 0x01,
  EOT: 0x04,
  ACK: 0x06,
  NAK: 0x15,
  CAN: 0x18,
  START: 0x43, // 'C'
  BLOCK: 128,
  FRAME: 133,
} as const;

/** One XMODEM-CRC block; `data` (at most 128 bytes) is padded with 0x00 as bossac pads. */
export function xmodemBlock(blockNumber: number, data: Uint8Array): Uint8Array {
  if (data.length > Xmodem.BLOCK) throw new RangeError(`XMODEM block of ${data.length} bytes`);
  const out = new Uint8Array(Xmodem.FRAME);
  out[0] = Xmodem.SOH;
  out[1] = blockNumber & 0xff;
  out[2] = ~blockNumber & 0xff;
  out.set(data, 3);
  const crc = crc16Xmodem(out.subarray(3, 3 + Xmodem.BLOCK));
  out[131] = crc >>> 8;
  out[132] = crc & 0xff;
  return out;
}

export type XmodemBlockCheck =
  | { ok: true; blockNumber: number; data: Uint8Array }
  | { ok: false; reason: "length" | "header" | "number" | "crc" };

/** Checks a received frame; `expected` is the block number it must carry. */
export function checkXmodemBlock(frame: Uint8Array, expected: number): XmodemBlockCheck {
  if (frame.length !== Xmodem.FRAME) return { ok: false, reason: "length" };
  if (frame[0] !== Xmodem.SOH) return { ok: false, reason: "header" };
  if (frame[1] !== (expected & 0xff) || frame[2] !== (~expected & 0xff))
    return { ok: false, reason: "number" };
  const data = frame.subarray(3, 3 + Xmodem.BLOCK);
  if (crc16Xmodem(data) !== ((frame[131]! << 8) | frame[132]!)) return { ok: false, reason: "crc" };
  return { ok: true, blockNumber: expected, data: Uint8Array.from(data) };
}

/** For messages: a reply's bytes as printable text. */
export function describeReply(b: Uint8Array): string {
  if (b.length === 0) return "nothing";
  const text = Array.from(b, (x) =>
    isPrintable(x) ? String.fromCharCode(x) : `\\x${x.toString(16).padStart(2, "0")}`,
  ).join("");
  return `"${text.length > 40 ? `${text.slice(0, 40)}…` : text}"`;
}
