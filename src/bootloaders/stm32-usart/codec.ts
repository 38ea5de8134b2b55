// The STM32 ROM USART bootloader's frames (ST AN3155; stm32-usart.md §3–§5),
// pure: a command is its code and the code's complement; an address is four
// bytes big endian and their XOR; a data block is N-1, N bytes and the XOR
// of all of them. Every step is answered by one byte, ACK 0x79 or NACK 0x1F.

/** The autobaud byte: the ROM measures it once per reset and answers ACK. */
export const SYNC = 0x7f;
export const ACK = 0x79;
export const NACK = 0x1f;
/** "Busy" (only the no-stretch I2C variants send it; never on a USART). */
export const BUSY = 0x76;

export const Cmd = {
  GET: 0x00,
  GET_VERSION: 0x01,
  GET_ID: 0x02,
  READ_MEMORY: 0x11,
  GO: 0x21,
  WRITE_MEMORY: 0x31,
  ERASE: 0x43,
  EXTENDED_ERASE: 0x44,
  WRITE_PROTECT: 0x63,
  WRITE_UNPROTECT: 0x73,
  READOUT_PROTECT: 0x82,
  READOUT_UNPROTECT: 0x92,
  GET_CHECKSUM: 0xa1,
} as const;
export type CmdCode = (typeof Cmd)[keyof typeof Cmd];

/** Names for messages: "WRITE_MEMORY (0x31)". */
export const CMD_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Cmd).map(([k, v]) => [v, k]),
);

export const cmdName = (c: number): string =>
  `${CMD_NAMES[c] ?? "unknown command"} (0x${c.toString(16).padStart(2, "0")})`;

/** The largest READ_MEMORY / WRITE_MEMORY transfer. */
export const MAX_TRANSFER = 256;
/** WRITE_MEMORY addresses and lengths are multiples of this (several ROMs NACK others). */
export const WRITE_ALIGN = 4;
/** ERASE (0x43) takes at most this many page numbers per command (N-1 = 0xFF is the global code). */
export const MAX_ERASE_PAGES = 255;
/** EXTENDED_ERASE codes above this are the special erases (mass, bank 1, bank 2). */
export const EXTENDED_ERASE_SPECIAL = { MASS: 0xffff, BANK1: 0xfffe, BANK2: 0xfffd } as const;
/** EXTENDED_ERASE page lists stay below this (stm32flash sends at most 512 per command). */
export const MAX_EXTENDED_ERASE_PAGES = 512;

export const xorOf = (bytes: ArrayLike<number>, seed = 0): number => {
  let x = seed;
  for (let i = 0; i < bytes.length; i++) x ^= bytes[i]!;
  return x & 0xff;
};

/** `cmd, ~cmd`. */
export function command(cmd: number): Uint8Array {
  return Uint8Array.of(cmd & 0xff, ~cmd & 0xff);
}

/** Four bytes big endian and their XOR. */
export function address(addr: number): Uint8Array {
  if (!Number.isInteger(addr) || addr < 0 || addr > 0xffffffff)
    throw new RangeError(`0x${addr.toString(16)} is not a 32-bit address`);
  const b = Uint8Array.of(addr >>> 24, (addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff, 0);
  b[4] = xorOf(b.subarray(0, 4));
  return b;
}

/** READ_MEMORY's length step: `N-1, ~(N-1)`. */
export function readLength(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 1 || n > MAX_TRANSFER)
    throw new RangeError(`READ_MEMORY reads 1..${MAX_TRANSFER} bytes, not ${n}`);
  return command(n - 1);
}

/** A data block: `N-1, data…, XOR(N-1, data…)`. */
export function dataBlock(data: Uint8Array): Uint8Array {
  if (data.length < 1 || data.length > MAX_TRANSFER)
    throw new RangeError(`a data block holds 1..${MAX_TRANSFER} bytes, not ${data.length}`);
  const out = new Uint8Array(data.length + 2);
  out[0] = data.length - 1;
  out.set(data, 1);
  out[out.length - 1] = xorOf(data, data.length - 1);
  return out;
}

/** `data` padded with 0xFF to a multiple of four (erased flash stays as it is). */
export function padToWord(data: Uint8Array): Uint8Array {
  const n = Math.ceil(data.length / WRITE_ALIGN) * WRITE_ALIGN;
  if (n === data.length) return data;
  const out = new Uint8Array(n).fill(0xff);
  out.set(data);
  return out;
}

/** ERASE (0x43) of pages: `N-1, page…, XOR`. */
export function erasePages(pages: readonly number[]): Uint8Array {
  if (pages.length < 1 || pages.length > MAX_ERASE_PAGES)
    throw new RangeError(`ERASE takes 1..${MAX_ERASE_PAGES} pages, not ${pages.length}`);
  for (const p of pages)
    if (!Number.isInteger(p) || p < 0 || p > 0xff)
      throw new RangeError(`ERASE numbers pages 0..255, not ${p}`);
  const out = Uint8Array.from([pages.length - 1, ...pages, 0]);
  out[out.length - 1] = xorOf(out.subarray(0, out.length - 1));
  return out;
}

/** ERASE (0x43) of the whole flash: `FF 00`. */
export const GLOBAL_ERASE = Uint8Array.of(0xff, 0x00);

/** EXTENDED_ERASE (0x44) of pages or sectors: `N-1 (2 B), page (2 B)…, XOR`, big endian. */
export function extendedErasePages(pages: readonly number[]): Uint8Array {
  if (pages.length < 1 || pages.length > MAX_EXTENDED_ERASE_PAGES)
    throw new RangeError(
      `EXTENDED_ERASE takes 1..${MAX_EXTENDED_ERASE_PAGES} pages, not ${pages.length}`,
    );
  const out = new Uint8Array(2 + pages.length * 2 + 1);
  const n = pages.length - 1;
  out[0] = n >>> 8;
  out[1] = n & 0xff;
  pages.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p >= EXTENDED_ERASE_SPECIAL.BANK2)
      throw new RangeError(`EXTENDED_ERASE numbers pages 0..0xfffc, not ${p}`);
    out[2 + i * 2] = p >>> 8;
    out[3 + i * 2] = p & 0xff;
  });
  out[out.length - 1] = xorOf(out.subarray(0, out.length - 1));
  return out;
}

/** EXTENDED_ERASE's special codes: `FF FF 00` (mass), `FF FE 01` (bank 1), `FF FD 02` (bank 2). */
export function extendedEraseSpecial(code: number): Uint8Array {
  return Uint8Array.of(code >>> 8, code & 0xff, (code >>> 8) ^ (code & 0xff));
}

export interface GetReply {
  /** The bootloader version, 0x22 = "2.2". */
  version: number;
  /** The command codes it supports, in its order. */
  commands: number[];
}

/** GET's payload after the first ACK: `N, version, c1…cN` (N counts the bytes after it, less one). */
export function parseGet(payload: Uint8Array): GetReply {
  if (payload.length < 2) throw new RangeError("GET reply too short");
  return { version: payload[1]!, commands: Array.from(payload.subarray(2)) };
}

/** "2.2" from 0x22. */
export const formatVersion = (v: number): string => `${v >>> 4}.${v & 0x0f}`;

/** GET_ID's payload after the first ACK: `N, pid…` (two bytes on every STM32). */
export function parseGetId(payload: Uint8Array): number {
  if (payload.length < 2) throw new RangeError("GET_ID reply too short");
  let pid = 0;
  for (const b of payload.subarray(1)) pid = (pid << 8) | b;
  return pid >>> 0;
}

/** What an answer byte means, for messages. */
export function describeAnswer(b: number | undefined): string {
  if (b === undefined) return "no answer";
  switch (b) {
    case ACK:
      return "ACK (0x79)";
    case NACK:
      return "NACK (0x1f)";
    case BUSY:
      return "BUSY (0x76)";
    case SYNC:
      return "0x7f, our own sync byte echoed (a loopback, or TX and RX tied together)";
    default:
      return `0x${b.toString(16).padStart(2, "0")} (neither ACK nor NACK: wrong baud rate or line mode?)`;
  }
}

/**
 * `data` without its trailing erased bytes, rounded up to a word: what
 * WRITE_MEMORY must send after an erase (empty: nothing to write).
 */
export function trimErased(data: Uint8Array): Uint8Array {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0xff) end--;
  return data.subarray(0, Math.min(data.length, Math.ceil(end / WRITE_ALIGN) * WRITE_ALIGN));
}
