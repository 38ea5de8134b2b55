// The SAM chips a SAM-BA monitor runs on, as bossac identifies them
// (sam-ba.md §4, §6, §9): how to read the chip id (CHIPID on SAM3/SAM4, the
// DSU device id on SAMD/SAME), which flash controller and geometry it has,
// where RAM for the applet and its stack lie, and how it is reset. An id maps
// to Klipper's CONFIG_MCU name only where it names exactly one part.

/** Addresses read to identify a chip, in bossac's order. */
export const IdRegs = {
  RESET_VECTOR_SP: 0x00000000,
  RESET_VECTOR_PC: 0x00000004,
  CPUID: 0xe000ed00,
  DSU_DID: 0x41002018,
  CHIPID_SAM4: 0x400e0740,
  CHIPID_SAM3: 0x400e0940,
} as const;

/** CPUID part numbers (CPUID & 0xFFF0). */
export const CpuPart = { CORTEX_M0P: 0xc600, CORTEX_M3: 0xc230, CORTEX_M4: 0xc240 } as const;

/** CHIPID bits that identify a part (the version bits and EXT are left out). */
export const CHIPID_MASK = 0x7fffffe0;
/** DSU DID bits that identify a part (the die revision is left out). */
export const DID_MASK = 0xffff00ff;

export type SamFamily = "sam3x" | "sam4e" | "sam4s" | "samd21" | "samd51" | "same51";
export type FlashControllerKind = "eefc" | "nvm-d2x" | "nvm-d5x";

export interface SamChip {
  /** "ATSAM3X8E". */
  name: string;
  family: SamFamily;
  controller: FlashControllerKind;
  flashBase: number;
  pages: number;
  pageSize: number;
  /** EEFC planes (SAM3X: 2, the second at +0x200). */
  planes: number;
  lockRegions: number;
  /** EEFC register base. */
  eefcBase?: number;
  /** RAM where the applet and its page buffers go, and the stack it runs on. */
  appletAddr: number;
  stackAddr: number;
  /** The write that resets the chip (RSTC_CR or AIRCR). */
  reset: { addr: number; value: number };
}

export interface ChipMatch {
  chip: SamChip;
  /** Klipper's CONFIG_MCU for exactly this id ("sam3x8e"), when the id names one part. */
  mcu: string | undefined;
  /** "CHIPID 0x285e0a60" / "DID 0x10010005". */
  id: string;
}

const RSTC = (base: number) => ({ addr: base, value: 0xa500000d });
const AIRCR = { addr: 0xe000ed0c, value: 0x05fa0004 };

const eefc = (
  name: string,
  family: SamFamily,
  flashBase: number,
  pages: number,
  pageSize: number,
  planes: number,
  lockRegions: number,
  stackAddr: number,
  reset: number,
): SamChip => ({
  name,
  family,
  controller: "eefc",
  flashBase,
  pages,
  pageSize,
  planes,
  lockRegions,
  eefcBase: 0x400e0a00,
  appletAddr: 0x20001000,
  stackAddr,
  reset: RSTC(reset),
});

const nvm = (
  name: string,
  family: SamFamily,
  pages: number,
  pageSize: number,
  appletAddr: number,
  stackAddr: number,
): SamChip => ({
  name,
  family,
  controller: family === "samd21" ? "nvm-d2x" : "nvm-d5x",
  flashBase: 0,
  pages,
  pageSize,
  planes: 1,
  lockRegions: family === "samd21" ? 16 : 32,
  appletAddr,
  stackAddr,
  reset: AIRCR,
});

const SAM3X8 = eefc("ATSAM3X8", "sam3x", 0x80000, 2048, 256, 2, 32, 0x20010000, 0x400e1a00);
const SAM4E8 = eefc("ATSAM4E8", "sam4e", 0x400000, 1024, 512, 1, 64, 0x20020000, 0x400e1800);
const SAM4E16 = eefc("ATSAM4E16", "sam4e", 0x400000, 2048, 512, 1, 128, 0x20020000, 0x400e1800);
const SAM4S8 = eefc("ATSAM4S8", "sam4s", 0x400000, 1024, 512, 1, 64, 0x20020000, 0x400e1400);
const SAM4S16 = eefc("ATSAM4S16", "sam4s", 0x400000, 2048, 512, 1, 128, 0x20020000, 0x400e1400);
const SAMD21x15 = nvm("ATSAMD21x15", "samd21", 512, 64, 0x20000800, 0x20001000);
const SAMD21x16 = nvm("ATSAMD21x16", "samd21", 1024, 64, 0x20001000, 0x20002000);
const SAMD21x17 = nvm("ATSAMD21x17", "samd21", 2048, 64, 0x20002000, 0x20004000);
const SAMD21x18 = nvm("ATSAMD21x18", "samd21", 4096, 64, 0x20004000, 0x20008000);
const SAMD51x18 = nvm("ATSAMD51x18", "samd51", 512, 512, 0x20004000, 0x20008000);
const SAMD51x19 = nvm("ATSAMD51x19", "samd51", 1024, 512, 0x20004000, 0x20008000);
const SAMD51x20 = nvm("ATSAMD51x20", "samd51", 2048, 512, 0x20004000, 0x20008000);
const SAME51x19 = nvm("ATSAME51x19", "same51", 1024, 512, 0x20004000, 0x20008000);
const SAME51x20 = nvm("ATSAME51x20", "same51", 2048, 512, 0x20004000, 0x20008000);

/** CHIPID & CHIPID_MASK → chip, Klipper name (the ARCH field names the package). */
const BY_CHIPID: ReadonlyMap<number, readonly [SamChip, string | undefined]> = new Map([
  [0x286e0a60, [SAM3X8, "sam3x8h"]],
  [0x285e0a60, [SAM3X8, "sam3x8e"]],
  [0x284e0a60, [SAM3X8, "sam3x8c"]],
  [0x288c0ae0, [SAM4S8, "sam4s8a"]],
  [0x289c0ae0, [SAM4S8, "sam4s8b"]],
  [0x28ac0ae0, [SAM4S8, "sam4s8c"]],
  [0x288c0ce0, [SAM4S16, "sam4s16a"]],
  [0x289c0ce0, [SAM4S16, "sam4s16b"]],
  [0x28ac0ce0, [SAM4S16, "sam4s16c"]],
] as const);

/** SAM4E: one CHIPID, the size and package in EXID. */
export const SAM4E_CHIPID = 0x23cc0ce0;
const BY_SAM4E_EXID: ReadonlyMap<number, readonly [SamChip, string]> = new Map([
  [0x00120200, [SAM4E16, "sam4e16e"]],
  [0x00120201, [SAM4E16, "sam4e16c"]],
  [0x00120208, [SAM4E8, "sam4e8e"]],
  [0x00120209, [SAM4E8, "sam4e8c"]],
] as const);

/** DID & DID_MASK → chip, Klipper name. */
const BY_DID: ReadonlyMap<number, readonly [SamChip, string]> = new Map([
  [0x10010003, [SAMD21x15, "samd21j15a"]],
  [0x10010008, [SAMD21x15, "samd21g15a"]],
  [0x1001000d, [SAMD21x15, "samd21e15a"]],
  [0x10010002, [SAMD21x16, "samd21j16a"]],
  [0x10010007, [SAMD21x16, "samd21g16a"]],
  [0x1001000c, [SAMD21x16, "samd21e16a"]],
  [0x10010001, [SAMD21x17, "samd21j17a"]],
  [0x10010006, [SAMD21x17, "samd21g17a"]],
  [0x1001000b, [SAMD21x17, "samd21e17a"]],
  [0x10010000, [SAMD21x18, "samd21j18a"]],
  [0x10010005, [SAMD21x18, "samd21g18a"]],
  [0x1001000a, [SAMD21x18, "samd21e18a"]],
  [0x1001000f, [SAMD21x18, "samd21g18a"]],
  [0x60060006, [SAMD51x18, "samd51j18a"]],
  [0x60060008, [SAMD51x18, "samd51g18a"]],
  [0x60060001, [SAMD51x19, "samd51p19a"]],
  [0x60060003, [SAMD51x19, "samd51n19a"]],
  [0x60060005, [SAMD51x19, "samd51j19a"]],
  [0x60060007, [SAMD51x19, "samd51g19a"]],
  [0x60060000, [SAMD51x20, "samd51p20a"]],
  [0x60060002, [SAMD51x20, "samd51n20a"]],
  [0x60060004, [SAMD51x20, "samd51j20a"]],
  [0x61810002, [SAME51x19, "same51j19a"]],
  [0x61810001, [SAME51x19, "same51n19a"]],
  [0x61810004, [SAME51x20, "same51j20a"]],
  [0x61810000, [SAME51x20, "same51n20a"]],
] as const);

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

/** The chip a CHIPID (and, for SAM4E, EXID) names, or undefined. */
export function chipByChipId(chipId: number, exid: number): ChipMatch | undefined {
  const cid = (chipId & CHIPID_MASK) >>> 0;
  if (cid === SAM4E_CHIPID) {
    const e = BY_SAM4E_EXID.get(exid >>> 0);
    return e ? { chip: e[0], mcu: e[1], id: `CHIPID ${hex(cid)} EXID ${hex(exid)}` } : undefined;
  }
  const m = BY_CHIPID.get(cid);
  return m ? { chip: m[0], mcu: m[1], id: `CHIPID ${hex(cid)}` } : undefined;
}

/** The chip a DSU device id names, or undefined. */
export function chipByDeviceId(did: number): ChipMatch | undefined {
  const d = (did & DID_MASK) >>> 0;
  const m = BY_DID.get(d);
  return m ? { chip: m[0], mcu: m[1], id: `DID ${hex(d)}` } : undefined;
}

/** Flash size in bytes. */
export const flashSize = (c: SamChip): number => c.pages * c.pageSize;

/** Every chip name a Klipper MCU name could belong to, for messages ("samd21g18a" → "ATSAMD21x18"). */
export function chipOfMcu(mcu: string): SamChip | undefined {
  for (const table of [BY_CHIPID, BY_SAM4E_EXID, BY_DID])
    for (const [chip, name] of table.values()) if (name === mcu) return chip;
  return undefined;
}
