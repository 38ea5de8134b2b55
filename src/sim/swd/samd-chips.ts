// The SAM D21 / SAM C21 parts the SWD target model can be, as data: the
// DSU DID (PROCESSOR 31:28 = 1 Cortex-M0+, FAMILY 27:23 D 0 / C 2, SERIES
// 21:16 = 1 "21", DIE 15:12, REVISION 11:8, DEVSEL 7:0 the part), flash
// and SRAM sizes, and whether NVMCTRL comes out of reset in manual page
// write mode (CTRLB.MANW). Die and revision are the model's choice.

export interface SamdPart {
  name: string;
  did: number;
  flashSize: number;
  ramSize: number;
  /** CTRLB.MANW after reset. */
  manualWrite: boolean;
}

const did = (family: number, devsel: number, revision: number) =>
  ((1 << 28) | (family << 23) | (1 << 16) | (revision << 8) | devsel) >>> 0;

export const SAMD_PARTS = {
  /** SAM D21G18A (Arduino Zero, many toolhead boards). */
  samd21g18a: {
    name: "SAMD21G18A",
    did: did(0, 0x05, 3),
    flashSize: 0x40000,
    ramSize: 0x8000,
    manualWrite: false,
  },
  /** SAM D21E18A. */
  samd21e18a: {
    name: "SAMD21E18A",
    did: did(0, 0x0a, 3),
    flashSize: 0x40000,
    ramSize: 0x8000,
    manualWrite: false,
  },
  /** SAM C21G18A (Duet 3 1LC toolboard). */
  samc21g18a: {
    name: "SAMC21G18A",
    did: did(2, 0x05, 0),
    flashSize: 0x40000,
    ramSize: 0x8000,
    manualWrite: true,
  },
  /** SAM C21E18A. */
  samc21e18a: {
    name: "SAMC21E18A",
    did: did(2, 0x0a, 0),
    flashSize: 0x40000,
    ramSize: 0x8000,
    manualWrite: true,
  },
} as const satisfies Record<string, SamdPart>;

export type SamdPartName = keyof typeof SAMD_PARTS;
