// STM32 parts as the ROM bootloader names them (GET_ID product ids;
// stm32-usart.md §8): flash base and largest size, erase layout (equal
// pages, or F2/F4 sectors), where the flash-size register and the option
// bytes sit, the RAM the ROM keeps for itself, how many vectors the part's
// table has, the table's chip names each id stands for, and Klipper's
// CONFIG_MCU name where the id maps to exactly one.

export const FLASH_BASE = 0x08000000;

export type EraseLayout =
  /** Equal pages (F0, F1, G0), numbered from the flash base. */
  | { kind: "pages"; size: number }
  /** F2/F4 sectors: 4 × 16 KiB, 64 KiB, then 128 KiB, per bank. */
  | { kind: "sectors"; dualBank?: boolean };

/** How the option bytes encode write protection. */
export type WrpScheme =
  /** F0/F1: WRP0..3 at offsets 8, 10, 12, 14; bit clear = protected, 4 KiB per bit (the last bit: the rest). */
  | "f1"
  /** F2/F4: nWRP at offset 8 (16 bits): bit clear = sector protected; bit 15 set = PCROP mode (not decoded). */
  | "f4";

export interface Stm32Part {
  pid: number;
  /** "STM32F10x medium density". */
  name: string;
  /** Device-table chip names (a row's `chip`) this id can be. */
  chips: readonly string[];
  /** Klipper's CONFIG_MCU, when the id names exactly one. */
  mcu?: string;
  flashBase: number;
  /** The largest flash of the id; the flash-size register gives the part's own. */
  maxFlashSize: number;
  layout: EraseLayout;
  /** The 16-bit flash size register (KiB). */
  flashSizeRegister: number;
  /** Option bytes (16 bytes read). */
  optionBytes: number;
  wrp: WrpScheme;
  /** System memory with the device signature (flash size, unique id) after it: read-only. */
  systemMemory: { start: number; end: number };
  /** SRAM start and the first byte the ROM leaves free. */
  ram: { start: number; end: number; romReservedEnd: number };
  /** Words of the part's vector table (16 exceptions + IRQs). */
  vectorWords: number;
}

const KIB = 1024;

const f1 = (p: Partial<Stm32Part> & Pick<Stm32Part, "pid" | "name" | "maxFlashSize">) =>
  ({
    chips: ["stm32f103"],
    mcu: "stm32f103xe",
    flashBase: FLASH_BASE,
    layout: { kind: "pages", size: KIB },
    flashSizeRegister: 0x1ffff7e0,
    optionBytes: 0x1ffff800,
    wrp: "f1",
    systemMemory: { start: 0x1ffff000, end: 0x1ffff800 },
    ram: { start: 0x20000000, end: 0x20005000, romReservedEnd: 0x20000200 },
    vectorWords: 16 + 43,
    ...p,
  }) satisfies Stm32Part;

const f0 = (p: Partial<Stm32Part> & Pick<Stm32Part, "pid" | "name" | "maxFlashSize" | "chips">) =>
  ({
    flashBase: FLASH_BASE,
    layout: { kind: "pages", size: KIB },
    flashSizeRegister: 0x1ffff7cc,
    optionBytes: 0x1ffff800,
    wrp: "f1",
    systemMemory: { start: 0x1fffec00, end: 0x1ffff800 },
    ram: { start: 0x20000000, end: 0x20001800, romReservedEnd: 0x20000800 },
    vectorWords: 16 + 32,
    ...p,
  }) satisfies Stm32Part;

const f4 = (p: Partial<Stm32Part> & Pick<Stm32Part, "pid" | "name" | "maxFlashSize" | "chips">) =>
  ({
    flashBase: FLASH_BASE,
    layout: { kind: "sectors" },
    flashSizeRegister: 0x1fff7a22,
    optionBytes: 0x1fffc000,
    wrp: "f4",
    systemMemory: { start: 0x1fff0000, end: 0x1fff7a30 }, // with OTP and the signature
    ram: { start: 0x20000000, end: 0x20020000, romReservedEnd: 0x20003000 },
    vectorWords: 16 + 82,
    ...p,
  }) satisfies Stm32Part;

export const PARTS: readonly Stm32Part[] = [
  f1({ pid: 0x412, name: "STM32F10x low density", maxFlashSize: 32 * KIB, mcu: "stm32f103x6" }),
  f1({ pid: 0x410, name: "STM32F10x medium density", maxFlashSize: 128 * KIB }),
  f1({
    pid: 0x414,
    name: "STM32F10x high density",
    maxFlashSize: 512 * KIB,
    layout: { kind: "pages", size: 2 * KIB },
    ram: { start: 0x20000000, end: 0x20010000, romReservedEnd: 0x20000200 },
    vectorWords: 16 + 60,
  }),
  f1({
    pid: 0x430,
    name: "STM32F10x XL density",
    maxFlashSize: 1024 * KIB,
    layout: { kind: "pages", size: 2 * KIB },
    ram: { start: 0x20000000, end: 0x20018000, romReservedEnd: 0x20000800 },
    vectorWords: 16 + 60,
  }),
  f1({
    pid: 0x418,
    name: "STM32F105/F107",
    chips: ["stm32f105", "stm32f107"],
    mcu: undefined,
    maxFlashSize: 256 * KIB,
    layout: { kind: "pages", size: 2 * KIB },
    systemMemory: { start: 0x1fffb000, end: 0x1ffff800 },
    ram: { start: 0x20000000, end: 0x20010000, romReservedEnd: 0x20001000 },
    vectorWords: 16 + 68,
  }),
  f0({
    pid: 0x444,
    name: "STM32F03x4/6",
    chips: ["stm32f030", "stm32f031"],
    maxFlashSize: 32 * KIB,
  }),
  f0({
    pid: 0x445,
    name: "STM32F04x / F070x6",
    chips: ["stm32f042", "stm32f070"],
    maxFlashSize: 32 * KIB,
    ram: { start: 0x20000000, end: 0x20001800, romReservedEnd: 0x20001800 },
  }),
  f0({
    pid: 0x440,
    name: "STM32F030x8 / F05x",
    chips: ["stm32f030", "stm32f051"],
    maxFlashSize: 64 * KIB,
  }),
  f0({
    pid: 0x448,
    name: "STM32F070xB / F071 / F072",
    chips: ["stm32f070", "stm32f072"],
    maxFlashSize: 128 * KIB,
    layout: { kind: "pages", size: 2 * KIB },
    ram: { start: 0x20000000, end: 0x20004000, romReservedEnd: 0x20001800 },
  }),
  f0({
    pid: 0x442,
    name: "STM32F030xC / F09x",
    chips: ["stm32f030", "stm32f091"],
    maxFlashSize: 256 * KIB,
    layout: { kind: "pages", size: 2 * KIB },
    ram: { start: 0x20000000, end: 0x20008000, romReservedEnd: 0x20001800 },
  }),
  f4({
    pid: 0x413,
    name: "STM32F405/F407/F415/F417",
    chips: ["stm32f407", "stm32f405", "stm32f415", "stm32f417"],
    maxFlashSize: 1024 * KIB,
  }),
  f4({
    pid: 0x419,
    name: "STM32F42x/F43x",
    chips: ["stm32f427", "stm32f429", "stm32f437", "stm32f439"],
    maxFlashSize: 2048 * KIB,
    layout: { kind: "sectors", dualBank: true },
    ram: { start: 0x20000000, end: 0x20030000, romReservedEnd: 0x20003000 },
    vectorWords: 16 + 91,
  }),
  f4({
    pid: 0x423,
    name: "STM32F401xB/C",
    chips: ["stm32f401"],
    mcu: "stm32f401xc",
    maxFlashSize: 256 * KIB,
    ram: { start: 0x20000000, end: 0x20010000, romReservedEnd: 0x20003000 },
    vectorWords: 16 + 85,
  }),
  f4({
    pid: 0x433,
    name: "STM32F401xD/E",
    chips: ["stm32f401"],
    mcu: "stm32f401xc",
    maxFlashSize: 512 * KIB,
    ram: { start: 0x20000000, end: 0x20018000, romReservedEnd: 0x20003000 },
    vectorWords: 16 + 85,
  }),
  f4({
    pid: 0x431,
    name: "STM32F411",
    chips: ["stm32f411"],
    maxFlashSize: 512 * KIB,
    vectorWords: 16 + 86,
  }),
  f4({
    pid: 0x421,
    name: "STM32F446",
    chips: ["stm32f446"],
    mcu: "stm32f446xx",
    maxFlashSize: 512 * KIB,
    vectorWords: 16 + 97,
  }),
];

export function partById(pid: number): Stm32Part | undefined {
  return PARTS.find((p) => p.pid === pid);
}

/** The ids a device-table chip name can answer with. */
export function partsForChip(chip: string): Stm32Part[] {
  return PARTS.filter((p) => p.chips.includes(chip));
}

export const formatPid = (pid: number): string => `0x${pid.toString(16).padStart(3, "0")}`;

/** One erase unit: the number the ERASE commands take, where it starts, how long it is. */
export interface EraseUnit {
  index: number;
  start: number;
  size: number;
}

/** F2/F4 sector sizes of one 1 MiB bank (4 × 16 KiB, 64 KiB, 7 × 128 KiB). */
const BANK_SECTORS = [16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128].map((k) => k * KIB);
/** Dual-bank parts number the second bank's sectors from here. */
const BANK2_FIRST_SECTOR = 12;

/** Every erase unit of a part with `flashSize` bytes, in address order. */
export function eraseUnits(part: Stm32Part, flashSize: number): EraseUnit[] {
  const out: EraseUnit[] = [];
  const base = part.flashBase;
  if (part.layout.kind === "pages") {
    const size = part.layout.size;
    for (let i = 0; i * size < flashSize; i++) out.push({ index: i, start: base + i * size, size });
    return out;
  }
  const bank = 1024 * KIB;
  const banks = part.layout.dualBank && flashSize > bank ? 2 : 1;
  for (let b = 0; b < banks; b++) {
    let at = base + b * bank;
    for (const [i, size] of BANK_SECTORS.entries()) {
      if (at - base >= Math.min(flashSize, (b + 1) * bank)) break;
      out.push({ index: b * BANK2_FIRST_SECTOR + i, start: at, size });
      at += size;
    }
  }
  return out;
}

/** The erase units any of `ranges` ([start, end) byte ranges) touches, in address order. */
export function unitsCovering(
  units: readonly EraseUnit[],
  ranges: ReadonlyArray<readonly [number, number]>,
): EraseUnit[] {
  return units.filter((u) => ranges.some(([s, e]) => s < u.start + u.size && e > u.start));
}

/** "1 KiB pages" / "sectors of 16, 64 and 128 KiB". */
export function describeLayout(part: Stm32Part): string {
  return part.layout.kind === "pages"
    ? `${part.layout.size / KIB} KiB pages`
    : "sectors of 16, 64 and 128 KiB";
}
