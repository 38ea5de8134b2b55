// A whole SAM D21/C21 as a debugger on its SWD pins sees it: the SW-DP with
// one AHB-AP (BASE = the DSU's ROM table) onto the system bus — flash and
// the user row through NVMCTRL, SRAM, PAC1, the DSU, NVMCTRL, and the
// Cortex-M0+'s debug components — and the system reset that SYSRESETREQ or
// the reset pin cause (peripherals and fuses reloaded, the core out of
// reset; the DP and the core's debug state survive SYSRESETREQ). No code
// runs. Pure, on its own clock.

import { MemoryMap, RamDevice } from "./bus.js";
import { SwdClock } from "./clock.js";
import { BPU_BASE, CortexM0Plus, DWT_BASE, M0P_ROM_TABLE, SCS_BASE } from "./cortex-m.js";
import { MemAp } from "./mem-ap.js";
import { SAMD_PARTS, type SamdPart, type SamdPartName } from "./samd-chips.js";
import { DSU_BASE, DSU_ROM_TABLE, PAC1_BASE, SamdDsu } from "./samd-dsu.js";
import { CHIP_ERASE_US, NVMCTRL_BASE, SamdNvm, USER_ROW } from "./samd-nvm.js";
import {
  ACK_NONE,
  DPIDR_SAMD21,
  SwDp,
  type SwdReply,
  type SwdRequest,
  type SwdWire,
} from "./sw-dp.js";

export const SRAM_BASE = 0x20000000;

export interface SamdTargetOptions {
  part: SamdPartName | SamdPart;
  clock?: SwdClock;
  /** The flash's contents at the start (from 0x0). */
  flash?: Uint8Array;
  /** The user row's first bytes (default: the factory values). */
  userRow?: Uint8Array;
  /** A DPIDR other than the SAM D21's (fault injection). */
  dpidr?: number;
  /** A DSU DID other than the part's (fault injection). */
  did?: number;
  /** A flash byte that reads back with bit 0 flipped (fault injection). */
  corruptByteAt?: number;
  /** Target power (false: nothing answers on the wire). */
  powered?: boolean;
  /** How long the DSU's chip erase keeps the NVM busy, µs (default CHIP_ERASE_US). */
  chipEraseUs?: number;
}

export class SamdTarget implements SwdWire {
  readonly clock: SwdClock;
  readonly part: SamdPart;
  readonly nvm: SamdNvm;
  readonly dsu: SamdDsu;
  readonly core: CortexM0Plus;
  readonly sram: RamDevice;
  readonly bus = new MemoryMap();
  readonly dp: SwDp;
  private resetAsserted = false;

  constructor(o: SamdTargetOptions) {
    this.clock = o.clock ?? new SwdClock();
    this.part = typeof o.part === "string" ? SAMD_PARTS[o.part] : o.part;
    this.nvm = new SamdNvm(this.clock, {
      flashSize: this.part.flashSize,
      manualWrite: this.part.manualWrite,
      ...(o.userRow ? { userRow: o.userRow } : {}),
    });
    if (o.flash) this.nvm.flash.set(o.flash.subarray(0, this.part.flashSize));
    this.nvm.corruptByteAt = o.corruptByteAt;
    this.sram = new RamDevice(this.part.ramSize);
    this.dsu = new SamdDsu(this.clock, o.did ?? this.part.did, {
      chipErase: () => {
        const us = o.chipEraseUs ?? CHIP_ERASE_US;
        this.sram.bytes.fill(0);
        this.nvm.chipErase(us);
        return this.clock.nowUs + us;
      },
      releaseCpu: () => this.core.reset(),
    });
    this.core = new CortexM0Plus({
      systemReset: () => this.systemReset(),
      readVector: (offset) => this.nvm.flashDevice().read(offset, 4),
    });
    this.bus
      .map("flash", 0, this.part.flashSize, this.nvm.flashDevice())
      .map("user-row", USER_ROW, 256, this.nvm.userRowDevice())
      .map("sram", SRAM_BASE, this.part.ramSize, this.sram)
      .map("pac1", PAC1_BASE, 0x400, this.dsu.pacRegisters())
      .map("dsu", DSU_BASE, 0x1000, this.dsu.registers())
      .map("dsu-rom", DSU_ROM_TABLE, 0x1000, SamdDsu.romTable())
      .map("nvmctrl", NVMCTRL_BASE, 0x400, this.nvm.registers())
      .map("dwt", DWT_BASE, 0x1000, this.core.dwt())
      .map("bpu", BPU_BASE, 0x1000, this.core.bpu())
      .map("scs", SCS_BASE, 0x1000, this.core.scs())
      .map("m0p-rom", M0P_ROM_TABLE, 0x1000, CortexM0Plus.romTable());
    this.dp = new SwDp(
      this.clock,
      new Map([[0, new MemAp(this.bus, (DSU_ROM_TABLE | 3) >>> 0)]]),
      o.dpidr ?? DPIDR_SAMD21,
    );
    this.dp.powered = o.powered ?? true;
  }

  /** SYSRESETREQ or the reset pin's release: peripherals, fuses, then the core. */
  systemReset(): void {
    this.nvm.reset();
    this.dsu.reset();
    this.core.reset();
  }

  sequence(bits: Uint8Array, count: number): void {
    this.dp.sequence(bits, count);
  }

  transfer(r: SwdRequest): SwdReply {
    if (this.resetAsserted) return { ack: ACK_NONE, data: 0xffffffff };
    return this.dp.transfer(r);
  }

  /**
   * RESET_N. Low: everything in reset, the debug logic too (the DP answers
   * nothing). Released: peripherals and fuses reload, and since the probe
   * holds SWCLK low the DSU sees a cold plug and keeps the CPU in reset
   * until a debugger clears STATUSA.CRSTEXT.
   */
  resetPin(asserted: boolean): void {
    if (asserted && !this.resetAsserted) {
      this.core.holdInReset();
      this.dp.reset();
    }
    if (this.resetAsserted && !asserted) {
      this.nvm.reset();
      this.dsu.reset();
      this.dsu.holdCpuInReset();
    }
    this.resetAsserted = asserted;
  }

  /** The flash from 0 (`length` bytes, default all of it). */
  flashDump(length = this.part.flashSize): Uint8Array {
    return this.nvm.flash.slice(0, length);
  }

  /** The user row (its first page, 64 bytes). */
  userRow(): Uint8Array {
    return this.nvm.userRow.slice(0, 64);
  }

  /** BOOTPROT as stored in the user row now (7 = no boot section). */
  get bootprotFuse(): number {
    return this.nvm.userRow[0]! & 7;
  }
}
