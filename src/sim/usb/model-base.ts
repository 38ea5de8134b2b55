// The common part of every USB device model: plugging and unplugging
// (re-enumeration with other descriptors), the standard requests a host
// stack makes (GET_DESCRIPTOR, SET_INTERFACE, claim/release), and a STALL
// for everything a model does not handle. A model adds its class or vendor
// requests and its endpoints.

import type { UsbDeviceModel } from "../../usb/model.js";
import { UsbStatus } from "../../usb/errors.js";
import type { SetupPacket } from "../../usb/device.js";
import type { UsbReply, UsbRequest } from "../../usb/wire.js";
import type { DescriptorSet } from "./descriptors.js";

const GET_DESCRIPTOR = 6;
const SET_INTERFACE = 11;
const SET_CONFIGURATION = 9;
const GET_STATUS = 0;
const CLEAR_FEATURE = 1;

let nextGeneration = 1;

export const STALL: UsbReply = { status: UsbStatus.PIPE };
export const ok = (data?: Uint8Array): UsbReply =>
  data ? { status: data.length, data } : { status: 0 };

export abstract class UsbModelBase implements UsbDeviceModel {
  generation: number | undefined;
  protected descriptors: DescriptorSet;
  /** Interfaces claimed by the host, and each one's alternate setting. */
  protected readonly claimed = new Set<number>();
  protected readonly altSetting = new Map<number, number>();
  private readonly listeners = new Set<(g: number | undefined) => void>();
  /** Every request, for tests. */
  readonly log: UsbRequest[] = [];

  constructor(
    readonly name: string,
    readonly portPath: string,
    descriptors: DescriptorSet,
    plugged = true,
  ) {
    this.descriptors = descriptors;
    if (plugged) this.generation = nextGeneration++;
  }

  onPlug(listener: (g: number | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Leaves the bus (a reset, a jump to another firmware). */
  unplug(): void {
    if (this.generation === undefined) return;
    this.generation = undefined;
    this.claimed.clear();
    this.altSetting.clear();
    for (const l of this.listeners) l(undefined);
  }

  /** Comes back, with other descriptors where given (re-enumeration). */
  plug(descriptors?: DescriptorSet): void {
    if (descriptors) this.descriptors = descriptors;
    this.generation = nextGeneration++;
    for (const l of this.listeners) l(this.generation);
  }

  async handle(r: UsbRequest): Promise<UsbReply> {
    if (this.generation === undefined) return { status: UsbStatus.NO_DEVICE };
    this.log.push(r);
    switch (r.op) {
      case "claim":
        if (!this.hasInterface(r.iface)) return { status: UsbStatus.NOT_FOUND };
        this.claimed.add(r.iface);
        return ok();
      case "release":
        this.claimed.delete(r.iface);
        return ok();
      case "reset":
        return this.onReset();
      case "transfer":
        return this.transfer(r.endpoint, r.data, r.length, r.timeoutMs);
      case "control":
        return this.control(r.setup, r.data);
    }
  }

  private async control(s: SetupPacket, data: Uint8Array | undefined): Promise<UsbReply> {
    const type = s.bmRequestType & 0x60;
    if (type === 0) {
      if (s.bRequest === GET_DESCRIPTOR && s.bmRequestType === 0x80) {
        const kind = s.wValue >> 8;
        const index = s.wValue & 0xff;
        const d =
          kind === 1
            ? this.descriptors.device
            : kind === 2 && index === 0
              ? this.descriptors.config
              : kind === 3
                ? this.descriptors.strings.get(index)
                : undefined;
        return d ? ok(d.subarray(0, s.wLength)) : STALL;
      }
      if (s.bRequest === SET_INTERFACE && s.bmRequestType === 0x01) {
        if (!this.claimed.has(s.wIndex) || !this.hasAlt(s.wIndex, s.wValue)) return STALL;
        this.altSetting.set(s.wIndex, s.wValue);
        this.onAltSetting(s.wIndex, s.wValue);
        return ok();
      }
      if (s.bRequest === SET_CONFIGURATION) return ok();
      // CLEAR_FEATURE(ENDPOINT_HALT): no endpoint of a model stays halted
      if (s.bRequest === CLEAR_FEATURE && s.bmRequestType === 0x02) return ok();
      if (s.bRequest === GET_STATUS && s.bmRequestType & 0x80) return ok(Uint8Array.of(0, 0));
      return STALL;
    }
    return this.classOrVendor(s, data);
  }

  /** The alternate setting of `iface` now (0 until the host sets one). */
  protected alt(iface: number): number {
    return this.altSetting.get(iface) ?? 0;
  }

  protected hasInterface(iface: number): boolean {
    return this.interfaces().some((a) => a.iface === iface);
  }

  private hasAlt(iface: number, alt: number): boolean {
    return this.interfaces().some((a) => a.iface === iface && a.alt === alt);
  }

  /** (interface, alt) pairs of the configuration descriptor. */
  private interfaces(): Array<{ iface: number; alt: number }> {
    const c = this.descriptors.config;
    const out: Array<{ iface: number; alt: number }> = [];
    for (let o = c[0]!; o + 1 < c.length; o += c[o]!) {
      if (c[o]! < 2) break;
      if (c[o + 1] === 4) out.push({ iface: c[o + 2]!, alt: c[o + 3]! });
    }
    return out;
  }

  /** Class and vendor requests (DFU, HID, gs_usb …). Default: STALL. */
  protected async classOrVendor(_s: SetupPacket, _data: Uint8Array | undefined): Promise<UsbReply> {
    return STALL;
  }

  /** Bulk/interrupt transfers. Default: STALL. */
  protected async transfer(
    _endpoint: number,
    _data: Uint8Array | undefined,
    _length: number,
    _timeoutMs: number,
  ): Promise<UsbReply> {
    return STALL;
  }

  /** A USB reset from the host. Default: accepted, nothing changes. */
  protected async onReset(): Promise<UsbReply> {
    return ok();
  }

  protected onAltSetting(_iface: number, _alt: number): void {}
}
