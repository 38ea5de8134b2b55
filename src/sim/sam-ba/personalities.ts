// What sets the SAM-BA monitors apart (sam-ba.md §2, §3, §7): the SAM3X and
// SAM4 ROMs, the Arduino Zero bootloader (samd21_sam_ba, ArduinoCore-samd
// 1.8.3) and the Adafruit UF2 bootloader's CDC side (uf2-samdx1). Version
// text, the N# answer, terminal mode at start, the 0x06 after G on a UART,
// read bugs bossac works around, and the Arduino X/Y/Z commands as those
// bootloaders run them on the NVM controller (Y never erases; X erases from
// an address to the end of flash; Z is CRC-16/XMODEM of memory).

import { crc16Xmodem } from "../../bootloaders/sam-ba/codec.js";
import type { Bus } from "./bus.js";
import type { SimChip } from "./chip.js";

export type Extension = (chip: SimChip, address: number, value: number) => Uint8Array;

export interface Personality {
  name: string;
  /** Exactly what V# sends. */
  version: Uint8Array;
  /** N# in binary mode answers "\n\r" (ROM, Zero); the UF2 build without terminal support says nothing. */
  binaryNReply: boolean;
  terminalAtStart: { usb: boolean; uart: boolean };
  /** T# and N# switch modes (the UF2 build has no terminal mode: both do nothing). */
  terminalMode: boolean;
  /** After an applet returns, a UART gets 0x06. */
  gAckOnUart: boolean;
  /** uf2-samdx1's parser skips the rest of a USB packet after a 0xFF byte. */
  ffDropsRestOfPacket: boolean;
  /** A read (o/h/w) the monitor answers with 0 instead of memory. */
  hideRead?: (address: number, width: number) => boolean;
  /** The bytes R sends for `n` bytes at `address` (bugs included). Throws a bus fault for unmapped memory. */
  readQuirk(bus: Bus, address: number, n: number, iface: "usb" | "uart"): Uint8Array;
  extensions?: Partial<Record<string, Extension>>;
}

const text = (s: string) => new TextEncoder().encode(s);
const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** Version texts: the SAM-BA version, Arduino extensions, and the build date of the image. */
export const VERSIONS = {
  sam3x: "v1.1 Dec 15 2010 19:25:04\n\r",
  sam4e: "v2.1 Jun 29 2012 13:03:57\n\r",
  zero: "v2.0 [Arduino:XYZ] Mar 17 2016 11:52:29\n\r",
  uf2: "v1.1 [Arduino:XYZ] Jan 24 2019 11:21:16\n\r\0",
} as const;

/** The SAM3X ROM: direct flash reads come back as zeros, and USB reads of a power of two over 32 bytes are bad. */
export function sam3xRom(flash: { base: number; size: number }): Personality {
  const inFlash = (a: number) => a >= flash.base && a < flash.base + flash.size;
  return {
    name: "SAM3X ROM SAM-BA",
    version: text(VERSIONS.sam3x),
    binaryNReply: true,
    terminalAtStart: { usb: false, uart: true },
    terminalMode: true,
    gAckOnUart: false,
    ffDropsRestOfPacket: false,
    hideRead: (a) => inFlash(a),
    readQuirk(bus, a, n, iface) {
      const data = bus.readBytes(a, n);
      for (let i = 0; i < n; i++) if (inFlash(a + i)) data[i] = 0;
      if (iface === "usb" && n > 32 && isPow2(n)) {
        // the ROM's USB path loses the first byte and repeats the last
        data.copyWithin(0, 1);
      }
      return data;
    },
  };
}

/** The SAM4E/SAM4S ROM. */
export function sam4Rom(): Personality {
  return {
    name: "SAM4 ROM SAM-BA",
    version: text(VERSIONS.sam4e),
    binaryNReply: true,
    terminalAtStart: { usb: false, uart: true },
    terminalMode: true,
    gAckOnUart: false,
    ffDropsRestOfPacket: false,
    readQuirk: (bus, a, n) => bus.readBytes(a, n),
  };
}

/** Bus helpers for the bootloaders' own NVM code (their busy-waits skip ahead on chip time). */
const waitFlag = (bus: Bus, addr: number, width: 1 | 2 | 4, bit: number) => {
  for (let i = 0; i < 1_000_000; i++) if (bus.read(addr, width) & bit) return;
  throw new Error(`the NVM controller never got ready (0x${addr.toString(16)})`);
};

/** SAMD reads over USB of 64 bytes or more: the USB DMA reads flash as zeros (why bossac reads 63 at a time). */
function samdRead(flashEnd: number) {
  return (bus: Bus, a: number, n: number, iface: "usb" | "uart"): Uint8Array => {
    const data = bus.readBytes(a, n);
    if (iface === "usb" && n >= 64) for (let i = 0; i < n; i++) if (a + i < flashEnd) data[i] = 0;
    return data;
  };
}

function checksum(chip: SimChip, address: number, size: number): Uint8Array {
  const data = chip.bus.readBytes(address, size);
  chip.time.charge(size * 0.0002);
  const crc = crc16Xmodem(data);
  return text(`Z${crc.toString(16).toUpperCase().padStart(8, "0")}#\n\r`);
}

/** Arduino Zero bootloader (SAMD21, 8 KiB at 0): X erases rows to the end, Y writes pages, Z checks. */
export function arduinoZero(): Personality {
  let source = 0;
  const N = 0x41004000;
  return {
    name: "Arduino Zero SAM-BA bootloader",
    version: text(VERSIONS.zero),
    binaryNReply: true,
    terminalAtStart: { usb: false, uart: false },
    terminalMode: true,
    gAckOnUart: true,
    ffDropsRestOfPacket: false,
    readQuirk: samdRead(0x40000),
    extensions: {
      X: (chip, _a, addr) => {
        for (let row = addr; row < 0x40000; row += 256) {
          chip.bus.write(N + 0x1c, 4, row >>> 1);
          chip.bus.write(N, 2, 0xa502);
          waitFlag(chip.bus, N + 0x14, 1, 1);
        }
        return text("X\n\r");
      },
      Y: (chip, addr, size) => {
        if (size === 0) source = addr;
        else {
          const bus = chip.bus;
          bus.write(N + 4, 4, bus.read(N + 4, 4) & ~0x80); // automatic page write
          let dst = addr;
          let src = source;
          let words = size >>> 2;
          while (words > 0) {
            bus.write(N, 2, 0xa544); // PBC
            waitFlag(bus, N + 0x14, 1, 1);
            let i = 0;
            for (; i < 16 && i < words; i++) bus.write(dst + 4 * i, 4, bus.read(src + 4 * i, 4));
            bus.write(N, 2, 0xa504); // WP
            waitFlag(bus, N + 0x14, 1, 1);
            dst += 4 * i;
            src += 4 * i;
            words -= i;
          }
        }
        return text("Y\n\r");
      },
      Z: (chip, addr, size) => checksum(chip, addr, size),
    },
  };
}

/** Adafruit uf2-samdx1 on a SAMD51 (16 KiB at 0), its CDC monitor: quad-word writes, 8 KiB block erases. */
export function uf2Samd51(): Personality {
  let source = 0;
  const N = 0x41004000;
  const ready = (bus: Bus) => waitFlag(bus, N + 0x12, 2, 1);
  return {
    name: "UF2 SAMD51 bootloader (SAM-BA)",
    version: text(VERSIONS.uf2),
    binaryNReply: false,
    terminalAtStart: { usb: false, uart: false },
    terminalMode: false,
    gAckOnUart: true,
    ffDropsRestOfPacket: true,
    readQuirk: samdRead(0x80000),
    extensions: {
      X: (chip, _a, addr) => {
        for (let b = addr; b < 0x80000; b += 8192) {
          ready(chip.bus);
          chip.bus.write(N + 0x14, 4, b);
          chip.bus.write(N + 4, 2, 0xa501);
          ready(chip.bus);
        }
        return text("X\n\r");
      },
      Y: (chip, addr, size) => {
        if (size === 0) source = addr;
        else {
          const bus = chip.bus;
          bus.write(N, 2, bus.read(N, 2) & ~0x30); // WMODE manual
          ready(bus);
          bus.write(N + 4, 2, 0xa515); // PBC
          ready(bus);
          let dst = addr;
          let src = source;
          let words = size >>> 2;
          while (words > 0) {
            const len = Math.min(4, words);
            ready(bus);
            for (let i = 0; i < 4; i++)
              bus.write(dst + 4 * i, 4, i < len ? bus.read(src + 4 * i, 4) : 0xffffffff);
            bus.write(N + 0x14, 4, dst);
            bus.write(N + 4, 2, 0xa504); // WQW
            dst += 4 * len;
            src += 4 * len;
            words -= len;
          }
        }
        return text("Y\n\r");
      },
      Z: (chip, addr, size) => checksum(chip, addr, size),
    },
  };
}
