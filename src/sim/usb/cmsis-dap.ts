// A CMSIS-DAP v2 debug probe on USB with an SWD target behind it (a SAM
// D21/C21 model by default): one vendor interface (class 0xFF, 0/0) whose
// string names "CMSIS-DAP", bulk OUT then bulk IN (the order the CMSIS-DAP
// v2 spec asks for and openocd's usb_bulk backend checks), 64-byte packets
// at full speed or 512 at high speed. Each OUT packet is one command; its
// response waits for the next IN (up to the advertised packet count
// queued, as the firmware buffers them); an IN with nothing queued times
// out, as a probe with nothing to say does.

import { UsbStatus } from "../../usb/errors.js";
import type { UsbReply } from "../../usb/wire.js";
import { SwdClock } from "../swd/clock.js";
import { CmsisDap } from "../swd/cmsis-dap.js";
import { SamdTarget, type SamdTargetOptions } from "../swd/samd-target.js";
import type { SwdWire } from "../swd/sw-dp.js";
import { buildDescriptors } from "./descriptors.js";
import { ok, STALL, UsbModelBase } from "./model-base.js";

export const CMSIS_DAP_VID = 0x0d28;
export const CMSIS_DAP_PID = 0x0204;
export const EP_OUT = 0x01;
export const EP_IN = 0x81;
/** Responses the probe buffers (DAP_Info packet count). */
export const PACKET_COUNT = 4;
/** A command's USB round trip on the model's clock: a full-speed frame / a high-speed microframe, µs. */
export const FULL_SPEED_COMMAND_US = 1000;
export const HIGH_SPEED_COMMAND_US = 125;

export interface CmsisDapModelOptions {
  /** The target on the probe's SWD pins (default: a SAM C21G18A model). */
  target?: SwdWire;
  /** Options for the default SAM D/C target. */
  samd?: Omit<SamdTargetOptions, "clock">;
  clock?: SwdClock;
  /** 64 (full speed, the default) or 512 (high speed). */
  packetSize?: 64 | 512;
  serial?: string;
  name?: string;
  portPath?: string;
}

export class CmsisDapModel extends UsbModelBase {
  readonly clock: SwdClock;
  readonly dap: CmsisDap;
  /** The SAM D/C target when the default one is used. */
  readonly samd: SamdTarget | undefined;
  private readonly responses: Uint8Array[] = [];
  private readonly packetSize: number;

  constructor(o: CmsisDapModelOptions = {}) {
    const packetSize = o.packetSize ?? 64;
    const serial = o.serial ?? "CF0000SWD001";
    super(
      o.name ?? "cmsis-dap",
      o.portPath ?? "1-1",
      buildDescriptors(
        {
          vendorId: CMSIS_DAP_VID,
          productId: CMSIS_DAP_PID,
          bcdUSB: packetSize === 512 ? 0x0210 : 0x0200,
          manufacturer: "canflash",
          product: "canflash SWD probe model",
          serialNumber: serial,
        },
        [
          {
            iface: 0,
            alt: 0,
            class: 0xff,
            subClass: 0,
            protocol: 0,
            name: "CMSIS-DAP v2 (canflash model)",
            endpoints: [
              { address: EP_OUT, attributes: 2, maxPacketSize: packetSize },
              { address: EP_IN, attributes: 2, maxPacketSize: packetSize },
            ],
          },
        ],
      ),
    );
    this.packetSize = packetSize;
    this.clock = o.clock ?? new SwdClock();
    this.samd = o.target
      ? undefined
      : new SamdTarget({ part: "samc21g18a", ...o.samd, clock: this.clock });
    this.dap = new CmsisDap((o.target ?? this.samd)!, this.clock, {
      vendor: "canflash",
      product: "CMSIS-DAP model",
      serial,
      packetSize,
      packetCount: PACKET_COUNT,
      commandUs: packetSize === 512 ? HIGH_SPEED_COMMAND_US : FULL_SPEED_COMMAND_US,
    });
  }

  protected override async transfer(
    endpoint: number,
    data: Uint8Array | undefined,
    length: number,
  ): Promise<UsbReply> {
    if (!this.claimed.has(0)) return STALL;
    if (endpoint === EP_OUT) {
      const cmd = data ?? new Uint8Array(0);
      if (cmd.length > this.packetSize || this.responses.length >= PACKET_COUNT)
        return { status: UsbStatus.TIMEOUT }; // the probe NAKs: no room
      const response = this.dap.execute(cmd);
      if (response.length > 0) this.responses.push(response);
      return { status: cmd.length };
    }
    if (endpoint === EP_IN) {
      const r = this.responses.shift();
      if (!r) return { status: UsbStatus.TIMEOUT };
      return ok(length > 0 && r.length > length ? r.subarray(0, length) : r);
    }
    return STALL;
  }
}
