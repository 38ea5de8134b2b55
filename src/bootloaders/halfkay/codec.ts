// PJRC HalfKay (Teensy) reports, as teensy_loader_cli sends them (halfkay.md),
// for the AVR Teensy parts (the ARM ones' 64-byte header is not here):
// one HID output report per block, the block's address in the report's first
// bytes in a layout that depends on the part, and the boot report (three
// 0xFF bytes) that starts the application. Pure.

/** How a part's write report carries the block address. */
export type HalfKayAddressing =
  /** 2 bytes, the byte address little endian (parts below 64 KiB). */
  | "byte16"
  /** 2 bytes, address >> 8 and address >> 16 (256-byte blocks above 64 KiB). */
  | "page16";

export interface HalfKayPart {
  /** teensy_loader_cli's --mcu name. */
  name: string;
  /** The board it is on, for messages. */
  board: string;
  /** Usable application bytes from 0 (HalfKay sits above). */
  codeSize: number;
  blockSize: number;
  addressing: HalfKayAddressing;
}

export const HALFKAY_PARTS: readonly HalfKayPart[] = [
  {
    name: "at90usb162",
    board: "Teensy 1.0",
    codeSize: 15872,
    blockSize: 128,
    addressing: "byte16",
  },
  {
    name: "atmega32u4",
    board: "Teensy 2.0",
    codeSize: 32256,
    blockSize: 128,
    addressing: "byte16",
  },
  {
    name: "at90usb646",
    board: "Teensy++ 1.0",
    codeSize: 64512,
    blockSize: 256,
    addressing: "byte16",
  },
  {
    name: "at90usb1286",
    board: "Teensy++ 2.0",
    codeSize: 130048,
    blockSize: 256,
    addressing: "page16",
  },
];

export function halfKayPart(chip: string): HalfKayPart | undefined {
  return HALFKAY_PARTS.find((p) => p.name === chip);
}

/** Bytes before the block data in a write report (the AVR parts: two address bytes). */
export const headerLength = (_p: HalfKayPart): number => 2;

/** A write (and boot) report's length: header plus one block. */
export const reportLength = (p: HalfKayPart): number => headerLength(p) + p.blockSize;

/** HID SET_REPORT (class, interface; output report 0): how every report goes out. */
export const SET_REPORT = {
  bmRequestType: 0x21,
  bRequest: 0x09,
  wValue: 0x0200,
  wIndex: 0,
} as const;

/** The write report for the block at `address` (a multiple of the block size). */
export function encodeWriteReport(p: HalfKayPart, address: number, block: Uint8Array): Uint8Array {
  if (address % p.blockSize !== 0 || block.length !== p.blockSize)
    throw new RangeError(
      `HalfKay block at 0x${address.toString(16)} is not one aligned ${p.blockSize}-byte block`,
    );
  const r = new Uint8Array(reportLength(p));
  switch (p.addressing) {
    case "byte16":
      r[0] = address & 0xff;
      r[1] = (address >> 8) & 0xff;
      break;
    case "page16":
      r[0] = (address >> 8) & 0xff;
      r[1] = (address >> 16) & 0xff;
      break;
  }
  r.set(block, headerLength(p));
  return r;
}

/** The boot report: 0xFF in the first three bytes, zeros after. */
export function encodeBootReport(p: HalfKayPart): Uint8Array {
  const r = new Uint8Array(reportLength(p));
  r.fill(0xff, 0, 3);
  return r;
}

export type HalfKayReport = { kind: "write"; address: number; data: Uint8Array } | { kind: "boot" };

/** What a report asks of HalfKay (the device side, for models). Undefined: not a report of this part. */
export function decodeReport(p: HalfKayPart, r: Uint8Array): HalfKayReport | undefined {
  if (r.length !== reportLength(p)) return undefined;
  if (r[0] === 0xff && r[1] === 0xff && r[2] === 0xff) return { kind: "boot" };
  const address = p.addressing === "byte16" ? r[0]! | (r[1]! << 8) : (r[0]! << 8) | (r[1]! << 16);
  return { kind: "write", address, data: r.subarray(headerLength(p)) };
}

/** Does the block hold only erased bytes (teensy_loader_cli skips those after the first)? */
export const isBlank = (b: Uint8Array): boolean => b.every((x) => x === 0xff);
