// The STM32 ROM DFU bootloader (ST DfuSe, 0483:df11; dfu.md §5–6): alt
// settings named by their memory layout, commands as DNLOAD block 0 (SET
// ADDRESS, ERASE, MASS ERASE), data at pointer + (block − 2) × transfer
// size, UPLOAD from dfuIDLE. A command or write runs when the host asks
// GETSTATUS: that first reply is dfuDNBUSY with the operation's
// bwPollTimeout, and the chip answers nothing until it is done. A bad
// address ends in dfuERROR (errTARGET for a command; a write outside flash
// is stalled with errADDRESS). The zero-length DNLOAD (leave) makes it jump
// to the address pointer once GETSTATUS has answered; a USB reset restarts
// the ROM (BOOT0 held). F4 parts with no valid application report dfuERROR
// on the first GETSTATUS, as many ROMs do.

import {
  commandAddress,
  DfuseCommand,
  DfuState,
  DfuStatus,
  DFUSE_VERSION,
  encodeFunctional,
  parseMemoryLayout,
  segmentAt,
  type MemoryLayout,
} from "../../bootloaders/dfu/codec.js";
import type { UsbReply } from "../../usb/wire.js";
import { SimFlash, stm32f4Layout, uniformLayout, type FlashTiming } from "../flash.js";
import { DfuModelBase, type DfuModelOptions } from "./dfu-base.js";
import { buildDescriptors, type DescriptorSet } from "./descriptors.js";
import { ok } from "./model-base.js";

export interface DfuseRomPart {
  name: string;
  /** alt 0's string. */
  flashLayout: string;
  otherAlts: string[];
  flashSize: number;
  bcdDevice: number;
  transferSize: number;
  layout: "f4" | { page: number };
  timing: FlashTiming & { writeMs: number };
}

/** STM32F405/407, 1 MiB: sectors of 16/64/128 KiB (erase times scaled down ~10×, the ratios kept). */
export const STM32F407_ROM: DfuseRomPart = {
  name: "stm32f407",
  flashLayout: "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
  otherAlts: [
    "@Option Bytes  /0x1FFFC000/01*016 e",
    "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
    "@Device Feature/0xFFFF0000/01*004 e",
  ],
  flashSize: 0x100000,
  bcdDevice: 0x2200,
  transferSize: 2048,
  layout: "f4",
  timing: {
    eraseMs: (size) => (size <= 0x4000 ? 30 : size <= 0x10000 ? 60 : 110),
    writeBlockMs: 0,
    writeMs: 3,
  },
};

/** STM32F072, 128 KiB in 2 KiB pages. */
export const STM32F072_ROM: DfuseRomPart = {
  name: "stm32f072",
  flashLayout: "@Internal Flash  /0x08000000/064*0002Kg",
  otherAlts: ["@Option Bytes  /0x1FFFF800/01*016 e"],
  flashSize: 0x20000,
  bcdDevice: 0x2200,
  transferSize: 2048,
  layout: { page: 2048 },
  timing: { eraseMs: () => 20, writeBlockMs: 0, writeMs: 3 },
};

const FLASH_BASE = 0x08000000;

export interface DfuseRomOptions extends DfuModelOptions {
  part?: DfuseRomPart;
  /** The first GETSTATUS reports dfuERROR / errFIRMWARE (default: when no valid application is in flash). */
  startInError?: boolean;
  /** Flash contents at power-on (from 0x08000000). */
  initial?: Uint8Array;
}

export class DfuseRomModel extends DfuModelBase {
  readonly part: DfuseRomPart;
  protected readonly bootloaderDescriptors: DescriptorSet;
  private readonly layouts: MemoryLayout[];
  private pointer = FLASH_BASE;
  /** The command or write the next GETSTATUS runs. */
  private pending: (() => number) | undefined;
  private readonly startInError: boolean | undefined;
  /** Commands and writes, in order (tests: which sectors were erased). */
  readonly ops: Array<{ op: "set-address" | "erase" | "mass-erase" | "write"; address: number }> =
    [];

  constructor(o: DfuseRomOptions = {}) {
    const part = o.part ?? STM32F407_ROM;
    const alts = [part.flashLayout, ...part.otherAlts];
    const descriptors = buildDescriptors(
      {
        vendorId: 0x0483,
        productId: 0xdf11,
        bcdDevice: part.bcdDevice,
        manufacturer: "STMicroelectronics",
        product: "STM32  BOOTLOADER",
        serialNumber: o.serialNumber ?? "325A36793138",
      },
      alts.map((name, alt) => ({
        iface: 0,
        alt,
        class: 0xfe,
        subClass: 1,
        protocol: 2,
        name,
        ...(alt === alts.length - 1
          ? {
              extra: encodeFunctional({
                canDownload: true,
                canUpload: true,
                manifestationTolerant: false,
                willDetach: true,
                detachTimeoutMs: 255,
                transferSize: part.transferSize,
                dfuVersion: DFUSE_VERSION,
              }),
            }
          : {}),
      })),
    );
    const flash = new SimFlash(
      part.layout === "f4"
        ? stm32f4Layout(FLASH_BASE, part.flashSize)
        : uniformLayout(FLASH_BASE, part.flashSize, part.layout.page),
      part.timing,
      o.initial,
    );
    super(`dfuse-${part.name}`, descriptors, flash, o);
    this.part = part;
    this.bootloaderDescriptors = descriptors;
    this.layouts = alts.map((a) => parseMemoryLayout(a)!);
    this.startInError = o.startInError;
    this.onBootloaderStart();
  }

  protected override onBootloaderStart(): void {
    this.pointer = FLASH_BASE;
    this.pending = undefined;
    if (this.startInError ?? !this.appValid(FLASH_BASE)) {
      this.state = DfuState.dfuERROR;
      this.status = DfuStatus.errFIRMWARE;
    }
  }

  private layout(): MemoryLayout {
    return this.layouts[this.alt(0)]!;
  }

  private writable(address: number, length: number): boolean {
    const s = segmentAt(this.layout(), address);
    const e = segmentAt(this.layout(), address + length - 1);
    return !!s && !!e && s.writable && e.writable && this.flash.contains(address, length);
  }

  protected override getStatus(): UsbReply {
    if (this.state === DfuState.dfuDNLOAD_SYNC && this.pending) {
      // The first GETSTATUS after a command or write: busy now, for as long as it takes.
      const run = this.pending;
      this.pending = undefined;
      const ms = run();
      this.pollTimeoutMs = Math.ceil(ms);
      if (this.state === DfuState.dfuDNLOAD_SYNC) this.state = DfuState.dfuDNBUSY;
      const reply = this.statusBytes();
      this.busyUntil = this.clock.now() + ms;
      return ok(reply);
    }
    if (this.state === DfuState.dfuDNBUSY) {
      this.state = DfuState.dfuDNLOAD_IDLE;
      this.pollTimeoutMs = 0;
    }
    if (this.state === DfuState.dfuMANIFEST_SYNC) {
      // Leave: answer once, then jump to the address pointer.
      this.state = DfuState.dfuMANIFEST;
      const reply = this.statusBytes();
      this.leave(this.pointer);
      return ok(reply);
    }
    return ok(this.statusBytes());
  }

  protected download(block: number, data: Uint8Array): UsbReply {
    if (this.state !== DfuState.dfuIDLE && this.state !== DfuState.dfuDNLOAD_IDLE)
      return this.fail(DfuStatus.errSTALLEDPKT);
    if (block === 0) {
      if (data.length === 0) return this.fail(DfuStatus.errSTALLEDPKT);
      return this.command(data);
    }
    if (block === 1) return this.fail(DfuStatus.errSTALLEDPKT);
    if (data.length === 0) {
      this.state = DfuState.dfuMANIFEST_SYNC;
      return ok();
    }
    const address = this.pointer + (block - 2) * this.part.transferSize;
    if (this.alt(0) !== 0 || !this.writable(address, data.length))
      return this.fail(DfuStatus.errADDRESS);
    const copy = data.slice();
    this.pending = () => {
      this.ops.push({ op: "write", address });
      this.flash.program(address, copy);
      if (!this.flash.equals(address, copy)) {
        // programmed over bits that were not erased: the ROM's check fails
        this.state = DfuState.dfuERROR;
        this.status = DfuStatus.errVERIFY;
      }
      return this.part.timing.writeMs;
    };
    this.state = DfuState.dfuDNLOAD_SYNC;
    return { status: data.length };
  }

  private command(data: Uint8Array): UsbReply {
    const cmd = data[0]!;
    const bad = () => {
      this.state = DfuState.dfuERROR;
      this.status = DfuStatus.errTARGET;
      return 1;
    };
    if (cmd === DfuseCommand.SET_ADDRESS && data.length === 5) {
      const a = commandAddress(data);
      this.pending = () => {
        this.ops.push({ op: "set-address", address: a });
        if (!segmentAt(this.layout(), a)) return bad();
        this.pointer = a;
        return 1;
      };
    } else if (cmd === DfuseCommand.ERASE && data.length === 5) {
      const a = commandAddress(data);
      this.pending = () => {
        this.ops.push({ op: "erase", address: a });
        const s = segmentAt(this.layout(), a);
        if (!s || !s.erasable || this.alt(0) !== 0 || !this.flash.contains(a, 1)) return bad();
        return this.flash.eraseUnit(this.flash.layout.unitAt(a).start);
      };
    } else if (cmd === DfuseCommand.ERASE && data.length === 1) {
      this.pending = () => {
        this.ops.push({ op: "mass-erase", address: FLASH_BASE });
        let ms = 0;
        for (let a = FLASH_BASE; a < FLASH_BASE + this.part.flashSize;) {
          const u = this.flash.layout.unitAt(a);
          ms += this.flash.eraseUnit(u.start);
          a = u.start + u.size;
        }
        return ms;
      };
    } else return this.fail(DfuStatus.errSTALLEDPKT);
    this.state = DfuState.dfuDNLOAD_SYNC;
    return { status: data.length };
  }

  protected upload(block: number, length: number): UsbReply {
    if (this.state !== DfuState.dfuIDLE && this.state !== DfuState.dfuUPLOAD_IDLE)
      return this.fail(DfuStatus.errSTALLEDPKT);
    if (block === 0) {
      this.state = DfuState.dfuIDLE;
      return ok(
        Uint8Array.of(
          DfuseCommand.GET,
          DfuseCommand.SET_ADDRESS,
          DfuseCommand.ERASE,
          DfuseCommand.READ_UNPROTECT,
        ).subarray(0, length),
      );
    }
    if (block === 1) return this.fail(DfuStatus.errSTALLEDPKT);
    const address = this.pointer + (block - 2) * length;
    const s = segmentAt(this.layout(), address);
    if (!s || !s.readable) return this.fail(DfuStatus.errADDRESS);
    const n = Math.max(0, Math.min(length, s.end - address));
    this.state = n < length ? DfuState.dfuIDLE : DfuState.dfuUPLOAD_IDLE;
    return ok(this.flash.read(address, n));
  }

  protected override detach(): UsbReply {
    return ok();
  }

  protected override async onReset(): Promise<UsbReply> {
    // The chip resets; with BOOT0 held the ROM starts again.
    this.leave(undefined);
    return ok();
  }
}
