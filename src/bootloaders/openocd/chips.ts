// Which OpenOCD target script and which flash commands a chip takes, by
// family: the SAMD/SAMC parts through OpenOCD's at91samd flash driver
// and the SAMD5x/SAME5x through its atsame5 driver (chip-erase, BOOTPROT
// through `at91samd bootloader` / `atsame5 bootloader`), the STM32
// lines through their mass-erase commands, other ARM parts with the
// sector erase `flash write_image erase` does. Devices as data.

export interface SwdChip {
  /** The family, for messages ("SAMD/SAMC (at91samd)"). */
  family: string;
  /** OpenOCD's target script ("target/at91samdXX.cfg"). */
  targetCfg: string;
  /** Where flash starts: a raw .bin without an address goes here. */
  flashBase: number;
  /** Erases the whole chip (the seed erases before every bootloader install); absent: sector erase while writing. */
  chipErase?: string;
  /** Sets the at91samd BOOTPROT size (bytes) kept write-protected: 0 before writing, the bootloader's size after. */
  bootProtect?: (bytes: number) => string;
  /**
   * The register that says the chip erase is done, polled after `chipErase`
   * until `(value & mask) !== 0`: openocd 0.12's `at91samd chip-erase` returns
   * once the erase has started, and the NVM answers nothing until it is done.
   */
  eraseDone?: EraseDone;
}

/** A register polled until bits are set: `read_memory <address> <width> 1`. */
export interface EraseDone {
  address: number;
  /** Bits per read (8, 16, 32). */
  width: 8 | 16 | 32;
  mask: number;
  /** Its name, for messages ("DSU STATUSA.DONE"). */
  name: string;
}

/** SAM D/C/E: the DSU's STATUSA as the debugger sees it (DSU 0x41002000, external view +0x100), bit DONE. */
export const SAMD_DSU_STATUSA_DONE: EraseDone = {
  address: 0x4100_2101,
  width: 8,
  mask: 1,
  name: "DSU STATUSA.DONE",
};

/** `driver`: the flash driver's command group, at91samd (SAMC/SAMD2x) or atsame5 (SAMD5x/SAME5x, openocd 0.12's atsame5x.cfg). */
const samd = (targetCfg: string, family: string, driver: string): SwdChip => ({
  family,
  targetCfg,
  flashBase: 0,
  chipErase: `${driver} chip-erase`,
  bootProtect: (bytes) => `${driver} bootloader ${bytes}`,
  eraseDone: SAMD_DSU_STATUSA_DONE,
});
const stm32 = (targetCfg: string, erase: string, family: string): SwdChip => ({
  family,
  targetCfg,
  flashBase: 0x0800_0000,
  chipErase: `${erase} mass_erase 0`,
});

/** By MCU name prefix (Klipper's CONFIG_MCU spelling), most specific first. */
const FAMILIES: ReadonlyArray<[RegExp, SwdChip]> = [
  [/^sam[cd]2[01]/, samd("target/at91samdXX.cfg", "SAMD/SAMC (at91samd)", "at91samd")],
  [/^sam(d5|e5)/, samd("target/atsame5x.cfg", "SAMD5x/SAME5x (atsame5)", "atsame5")],
  [/^stm32f[01]/, stm32("target/stm32f1x.cfg", "stm32f1x", "STM32F1 (stm32f1x)")],
  [/^stm32f[24]/, stm32("target/stm32f4x.cfg", "stm32f2x", "STM32F2/F4 (stm32f2x)")],
  [/^stm32g0/, stm32("target/stm32g0x.cfg", "stm32l4x", "STM32G0 (stm32l4x)")],
  [/^stm32h7/, stm32("target/stm32h7x.cfg", "stm32h7x", "STM32H7 (stm32h7x)")],
  [/^rp2040/, { family: "RP2040", targetCfg: "target/rp2040.cfg", flashBase: 0x1000_0000 }],
  [/^lpc17/, { family: "LPC17xx", targetCfg: "target/lpc17xx.cfg", flashBase: 0 }],
];

/** The OpenOCD facts of a chip ("samc21g18a", "stm32f103xe"), or undefined when canflash knows none. */
export function swdChip(mcu: string): SwdChip | undefined {
  const m = mcu.toLowerCase();
  return FAMILIES.find(([re]) => re.test(m))?.[1];
}

/** The chip names canflash knows, for messages. */
export const KNOWN_SWD_CHIPS =
  "samc21*, samd21*, samd51*, same5x*, stm32f0/f1/f2/f4/g0/h7*, rp2040, lpc17*";
