// PICOBOOT, the vendor interface of the RP2040 boot ROM in BOOTSEL mode
// (pico-sdk boot/picoboot.h): 32-byte commands on the bulk OUT endpoint,
// an optional data phase, a zero-length ack in the opposite direction; a
// refused command stalls the endpoint and its status is read with a
// control request. Also the facts of an RP2040 flash image: the 256-byte
// second-stage boot (boot2) with its CRC at the flash start, the vector
// table after it. Pure.

export const PICOBOOT_MAGIC = 0x431f_d10b;
export const COMMAND_SIZE = 32;
export const STATUS_SIZE = 16;

/** Control requests on the PICOBOOT interface (vendor, interface recipient). */
export const IF_RESET = 0x41;
export const IF_CMD_STATUS = 0x42;

export const PicobootCmd = {
  EXCLUSIVE_ACCESS: 0x01,
  REBOOT: 0x02,
  FLASH_ERASE: 0x03,
  READ: 0x84,
  WRITE: 0x05,
  EXIT_XIP: 0x06,
  ENTER_CMD_XIP: 0x07,
} as const;

export const Exclusive = { NOT_EXCLUSIVE: 0, EXCLUSIVE: 1, EXCLUSIVE_AND_EJECT: 2 } as const;

/** dStatusCode values. */
export const PicobootStatus = {
  OK: 0,
  UNKNOWN_CMD: 1,
  INVALID_CMD_LENGTH: 2,
  INVALID_TRANSFER_LENGTH: 3,
  INVALID_ADDRESS: 4,
  BAD_ALIGNMENT: 5,
  INTERLEAVED_WRITE: 6,
  REBOOTING: 7,
  UNKNOWN_ERROR: 8,
  INVALID_STATE: 9,
} as const;

const STATUS_NAMES: Record<number, string> = {
  0: "ok",
  1: "unknown command",
  2: "invalid command length",
  3: "invalid transfer length",
  4: "invalid address",
  5: "bad alignment",
  6: "interleaved write",
  7: "rebooting",
  8: "unknown error",
  9: "invalid state",
};
export const statusName = (s: number): string => STATUS_NAMES[s] ?? `status ${s}`;

export const cmdName = (id: number): string =>
  (Object.entries(PicobootCmd).find(([, v]) => v === id)?.[0] ?? `0x${id.toString(16)}`).replace(
    /_/g,
    " ",
  );

/** RP2040 flash: erased by 4 KiB sectors, programmed by 256-byte pages, mapped (XIP) at 0x10000000. */
export const FLASH_START = 0x1000_0000;
export const SECTOR_SIZE = 4096;
export const PAGE_SIZE = 256;
/** The boot ROM's own answers on the USB ids (RP2040 BOOTSEL). */
export const RP2040_BOOTSEL_USB = { vendorId: 0x2e8a, productId: 0x0003 } as const;

export interface PicobootCommand {
  token: number;
  id: number;
  /** Bytes of `args` that count. */
  argSize: number;
  transferLength: number;
  args: Uint8Array;
}

export function encodeCommand(
  c: Omit<PicobootCommand, "args"> & { args?: Uint8Array },
): Uint8Array {
  const b = new Uint8Array(COMMAND_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, PICOBOOT_MAGIC, true);
  v.setUint32(4, c.token >>> 0, true);
  b[8] = c.id;
  b[9] = c.argSize;
  v.setUint32(12, c.transferLength >>> 0, true);
  if (c.args) b.set(c.args.subarray(0, 16), 16);
  return b;
}

/** Undefined: not a command (wrong size or magic). */
export function decodeCommand(b: Uint8Array): PicobootCommand | undefined {
  if (b.length !== COMMAND_SIZE) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0, true) !== PICOBOOT_MAGIC) return undefined;
  return {
    token: v.getUint32(4, true),
    id: b[8]!,
    argSize: b[9]!,
    transferLength: v.getUint32(12, true),
    args: b.slice(16, 32),
  };
}

const words = (...w: number[]) => {
  const b = new Uint8Array(w.length * 4);
  const v = new DataView(b.buffer);
  w.forEach((x, i) => v.setUint32(i * 4, x >>> 0, true));
  return b;
};

/** (address, size) arguments of READ, WRITE, FLASH_ERASE. */
export const rangeArgs = (address: number, size: number): Uint8Array => words(address, size);
/** REBOOT to the normal boot path (pc 0, sp 0) after `delayMs`. */
export const rebootArgs = (pc: number, sp: number, delayMs: number): Uint8Array =>
  words(pc, sp, delayMs);

export function decodeRange(args: Uint8Array): { address: number; size: number } {
  const v = new DataView(args.buffer, args.byteOffset, args.byteLength);
  return { address: v.getUint32(0, true), size: v.getUint32(4, true) };
}

export interface PicobootStatusReply {
  token: number;
  status: number;
  cmdId: number;
  inProgress: boolean;
}

export function encodeStatus(s: PicobootStatusReply): Uint8Array {
  const b = new Uint8Array(STATUS_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, s.token >>> 0, true);
  v.setUint32(4, s.status >>> 0, true);
  b[8] = s.cmdId;
  b[9] = s.inProgress ? 1 : 0;
  return b;
}

export function decodeStatus(b: Uint8Array): PicobootStatusReply | undefined {
  if (b.length < STATUS_SIZE) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    token: v.getUint32(0, true),
    status: v.getUint32(4, true),
    cmdId: b[8]!,
    inProgress: b[9] !== 0,
  };
}

/** The 4 KiB sectors that hold [address, address + size) for each range, ascending, each once. */
export function sectorsCovering(ranges: ReadonlyArray<readonly [number, number]>): number[] {
  const s = new Set<number>();
  for (const [a, n] of ranges)
    for (let x = Math.floor(a / SECTOR_SIZE) * SECTOR_SIZE; x < a + n; x += SECTOR_SIZE) s.add(x);
  return [...s].sort((x, y) => x - y);
}

/** CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, not reflected, no final xor): boot2's checksum. */
export function crc32Mpeg2(b: Uint8Array): number {
  let crc = 0xffff_ffff;
  for (const byte of b) {
    crc ^= byte << 24;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000_0000 ? (crc << 1) ^ 0x04c1_1db7 : crc << 1;
  }
  return crc >>> 0;
}

export const BOOT2_SIZE = 256;

/** Do the first 256 bytes hold a boot2 the boot ROM accepts (its CRC in the last 4 bytes)? */
export function hasBoot2(b: Uint8Array): boolean {
  if (b.length < BOOT2_SIZE) return false;
  const stored = new DataView(b.buffer, b.byteOffset + 252, 4).getUint32(0, true);
  return crc32Mpeg2(b.subarray(0, 252)) === stored;
}

/** A Cortex-M vector table's first words at `offset`: initial SP in SRAM, a Thumb reset handler. */
export function vectorTable(
  b: Uint8Array,
  offset: number,
): { sp: number; reset: number } | undefined {
  if (b.length < offset + 8) return undefined;
  const v = new DataView(b.buffer, b.byteOffset + offset, 8);
  const sp = v.getUint32(0, true);
  const reset = v.getUint32(4, true);
  if ((sp & 0xff00_0000) !== 0x2000_0000 || (reset & 1) !== 1) return undefined;
  return { sp, reset: (reset & ~1) >>> 0 };
}
