// ELF reader (out/klipper.elf): ELF32 and ELF64, little-endian. The image is
// what a programmer writes to flash: every PT_LOAD program header with file
// bytes, placed at its physical (load) address p_paddr and taking p_filesz
// bytes from p_offset. That is why .data, which runs in RAM but is stored in
// flash after .text, lands at its flash address, and why .bss (memory only,
// p_filesz 0) is not flashed. Section headers are not read. Every offset and
// size is checked against the file before it is used.

import {
  EmptyImageError,
  ImageFormatError,
  ImageTooLargeError,
  NotFirmwareError,
  OverlappingSegmentsError,
  UnsupportedImageError,
  hex,
  type ImageLocation,
} from "./errors.js";
import { ADDRESS_SPACE_END, MAX_IMAGE_SEGMENTS, type FirmwareImage } from "./model.js";
import { SegmentBuilder } from "./segments.js";

const PT_LOAD = 1;
const ET_REL = 1;
const ET_CORE = 4;
const PASS_FIRMWARE = "pass the linked firmware: out/klipper.bin or out/klipper.elf";

/** True if `bytes` starts with the ELF magic 7f 45 4c 46. */
export function hasElfMagic(bytes: Uint8Array): boolean {
  return bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

interface ProgramHeader {
  index: number;
  /** File offset of the header itself. */
  at: number;
  type: number;
  offset: number;
  paddr: number;
  filesz: number;
  memsz: number;
}

/**
 * Reads a linked ELF executable. Throws ImageFormatError (bad magic, truncation
 * naming the offset, inconsistent headers), UnsupportedImageError (big-endian),
 * NotFirmwareError (object file, core dump, no PT_LOAD), EmptyImageError (no
 * loadable bytes), OverlappingSegmentsError naming both program headers, and
 * ImageTooLargeError past the limits.
 */
export function parseElf(bytes: Uint8Array, source = "firmware.elf"): FirmwareImage {
  const fail = (where: ImageLocation, problem: string, fix: string): never => {
    throw new ImageFormatError(source, "elf", where, problem, fix);
  };
  const truncated = (offset: number, what: string): never =>
    fail(
      { offset },
      `truncated: ${what} runs past the end of the file (${bytes.length} bytes)`,
      "The file was cut short: rebuild the firmware or copy the file again",
    );
  if (!hasElfMagic(bytes)) {
    fail({ offset: 0 }, "does not start with the ELF magic 7f 45 4c 46", PASS_FIRMWARE);
  }
  if (bytes.length < 16) truncated(0, "the 16-byte ELF identification");
  const cls = bytes[4]!;
  if (cls !== 1 && cls !== 2) {
    fail({ offset: 4 }, `unknown ELF class ${cls} (1 is ELF32, 2 is ELF64)`, PASS_FIRMWARE);
  }
  if (bytes[5] === 2) {
    throw new UnsupportedImageError(
      source,
      "elf",
      "big-endian ELF",
      "canflash reads little-endian ELF (ARM, AVR, RISC-V builds); convert it to a raw " +
        "binary (objcopy -O binary) and pass the .bin with the target's start address",
    );
  }
  if (bytes[5] !== 1) {
    fail({ offset: 5 }, `unknown ELF data encoding ${bytes[5]}`, PASS_FIRMWARE);
  }
  if (bytes[6] !== 1) fail({ offset: 6 }, `unknown ELF version ${bytes[6]}`, PASS_FIRMWARE);

  const is64 = cls === 2;
  const ehsize = is64 ? 64 : 52;
  if (bytes.length < ehsize) truncated(0, `the ${ehsize}-byte ELF header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (o: number) => (is64 ? u64(dv, o) : dv.getUint32(o, true));
  const type = dv.getUint16(16, true);
  const entry = word(24);
  const phoff = word(is64 ? 32 : 28);
  const phentsize = dv.getUint16(is64 ? 54 : 42, true);
  const phnum = dv.getUint16(is64 ? 56 : 44, true);

  if (type === ET_REL) {
    throw new NotFirmwareError(
      source,
      "elf",
      "object-file",
      `it is a relocatable object file (.o), not a linked firmware; ${PASS_FIRMWARE}`,
    );
  }
  if (type === ET_CORE) {
    throw new NotFirmwareError(source, "elf", "core-dump", `it is a core dump; ${PASS_FIRMWARE}`);
  }
  if (phnum === 0xffff) {
    throw new UnsupportedImageError(
      source,
      "elf",
      "an ELF with 65535 or more program headers",
      PASS_FIRMWARE,
    );
  }
  if (phnum > 0 && phentsize < (is64 ? 56 : 32)) {
    fail(
      { offset: is64 ? 54 : 42 },
      `program header size ${phentsize} is too small for ELF${is64 ? 64 : 32}`,
      "The file is corrupt: rebuild the firmware",
    );
  }
  if (phnum > 0 && phoff + phnum * phentsize > bytes.length) {
    truncated(phoff, `the program header table (${phnum} x ${phentsize} bytes at ${hex(phoff)})`);
  }

  const loads: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const ph: ProgramHeader = {
      index: i,
      at,
      type: dv.getUint32(at, true),
      offset: word(at + (is64 ? 8 : 4)),
      paddr: word(at + (is64 ? 24 : 12)),
      filesz: word(at + (is64 ? 32 : 16)),
      memsz: word(at + (is64 ? 40 : 20)),
    };
    if (ph.type === PT_LOAD) loads.push(ph);
  }
  if (loads.length === 0) {
    throw new NotFirmwareError(
      source,
      "elf",
      "no-loadable-segments",
      `the ELF has no loadable (PT_LOAD) segments, so it looks like an object file or ` +
        `something other than a linked firmware; ${PASS_FIRMWARE}`,
    );
  }
  if (loads.length > MAX_IMAGE_SEGMENTS) {
    throw new ImageTooLargeError(source, "elf", "segments", loads.length, MAX_IMAGE_SEGMENTS);
  }

  const builder = new SegmentBuilder(source, "elf", bytes.length);
  for (const ph of loads) {
    if (ph.filesz === 0) continue;
    const where = { programHeader: ph.index, offset: ph.at };
    if (ph.offset + ph.filesz > bytes.length) {
      fail(
        where,
        `truncated: its ${ph.filesz} file bytes at offset ${hex(ph.offset)} run past the end ` +
          `of the file (${bytes.length} bytes)`,
        "The file was cut short: rebuild the firmware or copy the file again",
      );
    }
    if (ph.filesz > ph.memsz) {
      fail(
        where,
        `file size ${hex(ph.filesz)} is larger than memory size ${hex(ph.memsz)}`,
        "The file is corrupt: rebuild the firmware",
      );
    }
    if (ph.paddr + ph.filesz > ADDRESS_SPACE_END) {
      fail(
        where,
        `loads ${hex(ph.filesz)} bytes at ${hex(ph.paddr)}, past the 32-bit address space of a ` +
          `micro-controller`,
        "This is not a micro-controller firmware; pass out/klipper.elf or out/klipper.bin",
      );
    }
    builder.add(ph.paddr, bytes.subarray(ph.offset, ph.offset + ph.filesz));
  }
  if (builder.size === 0) {
    throw new EmptyImageError(source, "elf", "its loadable segments hold no file bytes");
  }
  const segments = builder.finish((address) => {
    const hits = loads.filter(
      (ph) => ph.filesz > 0 && address >= ph.paddr && address < ph.paddr + ph.filesz,
    );
    const [a, b] = hits;
    throw new OverlappingSegmentsError(
      source,
      "elf",
      address,
      { programHeader: a?.index ?? 0, offset: a?.at ?? 0 },
      { programHeader: b?.index ?? 0, offset: b?.at ?? 0 },
    );
  });
  return { format: "elf", source, segments, entry };
}

/** A 64-bit field as a number; values past 2^53 become too large to pass any bounds check. */
function u64(dv: DataView, offset: number): number {
  return Number(dv.getBigUint64(offset, true));
}
