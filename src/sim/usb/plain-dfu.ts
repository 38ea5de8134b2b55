// Plain DFU 1.1 bootloaders (dfu.md §4, §8, §9), as their firmware behaves:
//
// - stm32duino (Maple) generic_boot20, 1eaf:0003: alt 2 writes flash from
//   0x08002000. The block number is ignored: each block goes to the next
//   page (erased, then programmed, when the host asks GETSTATUS), so a
//   resent block shifts the image. The build modelled offers no upload
//   (bmAttributes: download only). A zero-length DNLOAD ends the download
//   (dfuMANIFEST-SYNC, then dfuMANIFEST-WAIT-RESET); a USB reset then starts
//   the application. Alt 0 (RAM) answers errWRITE.
// - LPC176x DFU bootloader (Smoothieboard), 1d50:6015: block n goes to
//   0x4000 + n × 512 (the block number counts), a sector is erased when the
//   first block into it arrives; upload reads the same way; WillDetach:
//   after the manifest, or on DETACH, it resets itself into the application.

import { DfuState, DfuStatus, encodeFunctional } from "../../bootloaders/dfu/codec.js";
import type { UsbReply } from "../../usb/wire.js";
import { lpc176xLayout, SimFlash, uniformLayout } from "../flash.js";
import { DfuModelBase, type DfuModelOptions } from "./dfu-base.js";
import { buildDescriptors, type DescriptorSet } from "./descriptors.js";
import { ok } from "./model-base.js";

const dfuAlt = (alt: number, name: string, extra?: Uint8Array) => ({
  iface: 0,
  alt,
  class: 0xfe,
  subClass: 1,
  protocol: 2,
  name,
  ...(extra ? { extra } : {}),
});

export const STM32DUINO_APP = 0x08002000;

export interface Stm32duinoOptions extends DfuModelOptions {
  /** Flash page (and wTransferSize): 1024 medium density, 2048 high density. */
  pageSize?: number;
  flashSize?: number;
  initial?: Uint8Array;
}

export class Stm32duinoModel extends DfuModelBase {
  protected readonly bootloaderDescriptors: DescriptorSet;
  readonly pageSize: number;
  /** Bytes written so far in this download (where the next block goes). */
  private written = 0;
  private buffered: Uint8Array | undefined;
  /** USB resets seen (tests). */
  resets = 0;

  constructor(o: Stm32duinoOptions = {}) {
    const pageSize = o.pageSize ?? 1024;
    const d = buildDescriptors(
      {
        vendorId: 0x1eaf,
        productId: 0x0003,
        bcdDevice: 0x0201,
        manufacturer: "LeafLabs",
        product: "Maple 003",
        serialNumber: o.serialNumber ?? "LLM 003",
      },
      [
        dfuAlt(0, "STM32duino bootloader v1.0  ERROR. Upload to RAM not supported."),
        dfuAlt(1, "STM32duino bootloader v1.0  Upload to Flash 0x8005000"),
        dfuAlt(
          2,
          "STM32duino bootloader v1.0  Upload to Flash 0x8002000",
          encodeFunctional({
            canDownload: true,
            canUpload: false,
            manifestationTolerant: false,
            willDetach: false,
            detachTimeoutMs: 255,
            transferSize: pageSize,
            dfuVersion: 0x0110,
          }),
        ),
      ],
    );
    const flashSize = o.flashSize ?? 0x10000;
    super(
      "stm32duino",
      d,
      new SimFlash(
        uniformLayout(0x08000000, flashSize, pageSize),
        {
          eraseMs: () => 20,
          writeBlockMs: 2,
        },
        o.initial,
      ),
      o,
    );
    this.bootloaderDescriptors = d;
    this.pageSize = pageSize;
  }

  protected override onBootloaderStart(): void {
    this.written = 0;
    this.buffered = undefined;
  }

  private base(): number {
    return this.alt(0) === 1 ? 0x08005000 : STM32DUINO_APP;
  }

  protected download(_block: number, data: Uint8Array): UsbReply {
    if (this.state === DfuState.dfuIDLE || this.state === DfuState.dfuDNLOAD_IDLE) {
      if (data.length === 0) {
        if (this.state === DfuState.dfuIDLE) return this.fail(DfuStatus.errNOTDONE);
        this.state = DfuState.dfuMANIFEST_SYNC;
        return ok();
      }
      if (this.alt(0) === 0) return this.fail(DfuStatus.errWRITE);
      if (!this.flash.contains(this.base() + this.written, data.length))
        return this.fail(DfuStatus.errADDRESS);
      this.buffered = data.slice();
      this.state = DfuState.dfuDNLOAD_SYNC;
      return { status: data.length };
    }
    return this.fail(DfuStatus.errSTALLEDPKT);
  }

  protected override getStatus(): UsbReply {
    if (this.state === DfuState.dfuDNLOAD_SYNC && this.buffered) {
      // The block number is not looked at: the next page, whatever the host meant.
      const at = this.base() + this.written;
      let ms = this.flash.eraseUnit(this.flash.layout.unitAt(at).start);
      ms += this.flash.program(at, this.buffered);
      this.written += this.buffered.length;
      this.buffered = undefined;
      this.state = DfuState.dfuDNLOAD_IDLE;
      this.busyUntil = this.clock.now() + ms;
      this.pollTimeoutMs = 0;
    } else if (this.state === DfuState.dfuMANIFEST_SYNC)
      this.state = DfuState.dfuMANIFEST_WAIT_RESET;
    return ok(this.statusBytes());
  }

  protected upload(): UsbReply {
    return this.fail(DfuStatus.errSTALLEDPKT);
  }

  protected override async onReset(): Promise<UsbReply> {
    // A hard reset: the flag it set at the first download makes it jump to the application at once.
    this.resets++;
    this.leave(this.written > 0 ? STM32DUINO_APP : undefined);
    return ok();
  }
}

export const LPC176X_APP = 0x4000;
const LPC_BLOCK = 512;

export class Lpc176xDfuModel extends DfuModelBase {
  protected readonly bootloaderDescriptors: DescriptorSet;
  private readonly erased = new Set<number>();
  private pendingBlock: { n: number; data: Uint8Array } | undefined;

  constructor(o: DfuModelOptions & { initial?: Uint8Array } = {}) {
    const d = buildDescriptors(
      {
        vendorId: 0x1d50,
        productId: 0x6015,
        bcdDevice: 0x0100,
        manufacturer: "Uberclock",
        product: "Smoothieboard",
        serialNumber: o.serialNumber ?? "0F0A1B2C",
      },
      [
        dfuAlt(
          0,
          "DFU",
          encodeFunctional({
            canDownload: true,
            canUpload: true,
            manifestationTolerant: false,
            willDetach: true,
            detachTimeoutMs: 500,
            transferSize: LPC_BLOCK,
            dfuVersion: 0x0110,
          }),
        ),
      ],
    );
    super(
      "lpc176x-dfu",
      d,
      new SimFlash(lpc176xLayout(0x80000), { eraseMs: () => 10, writeBlockMs: 1 }, o.initial),
      o,
    );
    this.bootloaderDescriptors = d;
  }

  protected override onBootloaderStart(): void {
    this.erased.clear();
    this.pendingBlock = undefined;
  }

  protected download(block: number, data: Uint8Array): UsbReply {
    if (this.state !== DfuState.dfuIDLE && this.state !== DfuState.dfuDNLOAD_IDLE)
      return this.fail(DfuStatus.errSTALLEDPKT);
    if (data.length === 0) {
      if (this.state === DfuState.dfuIDLE) return this.fail(DfuStatus.errNOTDONE);
      this.state = DfuState.dfuMANIFEST_SYNC;
      return ok();
    }
    const at = LPC176X_APP + block * LPC_BLOCK;
    if (data.length > LPC_BLOCK || !this.flash.contains(at, data.length))
      return this.fail(DfuStatus.errADDRESS);
    this.pendingBlock = { n: block, data: data.slice() };
    this.state = DfuState.dfuDNLOAD_SYNC;
    return { status: data.length };
  }

  protected override getStatus(): UsbReply {
    if (this.state === DfuState.dfuDNLOAD_SYNC && this.pendingBlock) {
      const { n, data } = this.pendingBlock;
      this.pendingBlock = undefined;
      const at = LPC176X_APP + n * LPC_BLOCK;
      const unit = this.flash.layout.unitAt(at).start;
      let ms = 0;
      if (!this.erased.has(unit)) {
        ms += this.flash.eraseUnit(unit);
        this.erased.add(unit);
      }
      ms += this.flash.program(at, data);
      if (!this.flash.equals(at, data)) {
        this.state = DfuState.dfuERROR;
        this.status = DfuStatus.errPROG;
      } else this.state = DfuState.dfuDNLOAD_IDLE;
      this.pollTimeoutMs = Math.ceil(ms);
      this.busyUntil = this.clock.now() + ms;
    } else if (this.state === DfuState.dfuMANIFEST_SYNC) {
      // WillDetach, not manifestation tolerant: it resets itself into the application.
      this.state = DfuState.dfuMANIFEST_WAIT_RESET;
      const reply = this.statusBytes();
      this.leave(LPC176X_APP);
      return ok(reply);
    }
    return ok(this.statusBytes());
  }

  protected upload(block: number, length: number): UsbReply {
    if (this.state !== DfuState.dfuIDLE && this.state !== DfuState.dfuUPLOAD_IDLE)
      return this.fail(DfuStatus.errSTALLEDPKT);
    const at = LPC176X_APP + block * LPC_BLOCK;
    const n = Math.max(0, Math.min(length, LPC_BLOCK, 0x80000 - at));
    this.state = n < Math.min(length, LPC_BLOCK) ? DfuState.dfuIDLE : DfuState.dfuUPLOAD_IDLE;
    return ok(this.flash.read(at, n));
  }

  protected override detach(): UsbReply {
    if (this.state !== DfuState.dfuIDLE) return this.fail(DfuStatus.errSTALLEDPKT);
    this.leave(LPC176X_APP);
    return ok();
  }

  protected override async onReset(): Promise<UsbReply> {
    this.leave(LPC176X_APP);
    return ok();
  }
}
