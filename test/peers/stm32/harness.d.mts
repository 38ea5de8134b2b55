// Types of harness.mjs (plain JS so `npm run bench` can use it too).
import type { createStm32Rom, Stm32Rom, Stm32RomSetup } from "../../../src/sim/stm32/index.js";
import type { Clock } from "../../../src/util/clock.js";

export declare const STM32FLASH_TIMEOUT_MS: number;

export interface RomOnPty {
  /** The pty slave a flasher opens. */
  port: string;
  rom: Stm32Rom;
  /** From the host's first byte to the model's last answer (GO's ACK), ms: the session's time on the line. */
  lineMs(): number;
  stop(): Promise<void>;
}

export declare function startRom(
  sim: { createStm32Rom: typeof createStm32Rom },
  clock: Clock,
  options: Omit<Stm32RomSetup, "clock"> & { adapterLatencyMs?: number },
): Promise<RomOnPty>;
export declare function writeTemp(name: string, bytes: Uint8Array): string;
export declare function removeTemps(): void;
export declare function haveStm32flash(): Promise<boolean>;
export declare function stm32flash(
  args: string[],
  timeoutMs?: number,
): Promise<{ code: number | null; out: string }>;
