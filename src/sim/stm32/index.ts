// STM32 ROM bootloader models ready to use: the two parts of the device
// table's rows (an F103 medium density, id 0x410, with ERASE; an F407,
// id 0x413, with EXTENDED_ERASE over sectors), each with its ROM's version
// and GET list and its flash timing; and an in-process host link for tests
// on virtual time.

import { Cmd } from "../../bootloaders/stm32-usart/codec.js";
import { partById, type Stm32Part } from "../../bootloaders/stm32-usart/parts.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { MockTransport } from "../../transport/mock.js";
import type { Clock } from "../../util/clock.js";
import type { SerialLink } from "../katapult-serial.js";
import { F1_TIMING, F4_TIMING, type Stm32FlashTiming } from "./memory.js";
import { Stm32Rom, type Stm32RomOptions } from "./rom.js";
import type { RomLine } from "./uart.js";
import { wireBootLines, type BootWiring } from "./boot-lines.js";
import type { ModemControl } from "../../transport/modem.js";

export { Stm32Rom, type Stm32RomEvent, type Stm32RomOptions } from "./rom.js";
export { F1_TIMING, F4_TIMING, Stm32Memory, type Stm32FlashTiming } from "./memory.js";
export { RomUart, type RomLine } from "./uart.js";
export { RTS_BOOT0_DTR_RESET, wireBootLines, type BootWiring } from "./boot-lines.js";

const COMMON = [Cmd.GET, Cmd.GET_VERSION, Cmd.GET_ID, Cmd.READ_MEMORY, Cmd.GO, Cmd.WRITE_MEMORY];
const PROTECT = [
  Cmd.WRITE_PROTECT,
  Cmd.WRITE_UNPROTECT,
  Cmd.READOUT_PROTECT,
  Cmd.READOUT_UNPROTECT,
];

export interface Stm32Preset {
  part: Stm32Part;
  flashSize: number;
  version: number;
  commands: readonly number[];
  timing: Stm32FlashTiming;
}

export const STM32_PRESETS = {
  /** Blue Pill STM32F103C8: 64 KiB in 1 KiB pages, ROM 2.2 with ERASE (0x43). */
  f103: {
    part: partById(0x410)!,
    flashSize: 64 * 1024,
    version: 0x22,
    commands: [...COMMON, Cmd.ERASE, ...PROTECT],
    timing: F1_TIMING,
  },
  /** STM32F407 (SKR Pro): 1 MiB in sectors, ROM 3.1 with EXTENDED_ERASE (0x44). */
  f407: {
    part: partById(0x413)!,
    flashSize: 1024 * 1024,
    version: 0x31,
    commands: [...COMMON, Cmd.EXTENDED_ERASE, ...PROTECT],
    timing: F4_TIMING,
  },
} satisfies Record<string, Stm32Preset>;

export type Stm32PresetName = keyof typeof STM32_PRESETS;

/** 8E1 at stm32flash's default speed. */
export const DEFAULT_ROM_LINE: RomLine = { baud: 57600, frameBits: 11 };

export type Stm32RomSetup = Partial<Omit<Stm32RomOptions, "clock">> & {
  preset: Stm32PresetName;
  clock: Clock;
};

/** A ROM model of a preset part on `link`. */
export function createStm32Rom(link: SerialLink, o: Stm32RomSetup): Stm32Rom {
  const p = STM32_PRESETS[o.preset];
  return new Stm32Rom(link, {
    part: p.part,
    flashSize: p.flashSize,
    version: p.version,
    commands: p.commands,
    timing: p.timing,
    line: DEFAULT_ROM_LINE,
    ...o,
  });
}

/** A host ByteTransport wired to a ROM model in this process (the model paces the wire). */
export function stm32RomPair(o: Stm32RomSetup & { name?: string; wiring?: BootWiring }): {
  host: ByteTransport & { readonly mock: MockTransport } & Partial<ModemControl>;
  rom: Stm32Rom;
} {
  let toRom: ((b: Uint8Array) => void) | undefined;
  const mock = new MockTransport(
    o.clock,
    (bytes) => {
      toRom?.(bytes);
      return undefined;
    },
    o.name ?? "stm32-uart",
  );
  const link: SerialLink = {
    write: (b) => mock.emitData(b),
    onData: (cb) => void (toRom = cb),
  };
  const rom = createStm32Rom(link, o);
  // With a wiring, the port has modem lines and they drive BOOT0 and RESET.
  const lines = o.wiring ? { setLines: wireBootLines(rom, o.wiring) } : {};
  return { host: Object.assign(mock, { mock }, lines), rom };
}
