// The USB seam: one small device interface that DFU, DfuSe, the STM32 HID
// bootloader, HalfKay and PICOBOOT are written against, with backends by
// name (native for users, socket and in-process for tests; see
// ../shared/docs/testing-usb.md). Control requests, bulk/interrupt
// transfers with timeouts, claim, alternate settings, reset — and facts for
// choosing a device (ids, serial string, bus/port path). No policy here.

import type { ConfigDescriptor, DeviceDescriptor } from "./descriptors.js";

/** A control transfer's setup packet (USB 2.0 §9.3). */
export interface SetupPacket {
  bmRequestType: number;
  bRequest: number;
  wValue: number;
  wIndex: number;
  /** IN: bytes asked for; OUT: the payload's length (set by the backend from the data). */
  wLength: number;
}

/** bmRequestType helpers. */
export const RequestType = {
  /** Direction bit: device to host. */
  IN: 0x80,
  OUT: 0x00,
  STANDARD: 0x00,
  CLASS: 0x20,
  VENDOR: 0x40,
  DEVICE: 0x00,
  INTERFACE: 0x01,
  ENDPOINT: 0x02,
} as const;

/** What a backend's listing says about a device, before it is opened. */
export interface UsbDeviceInfo {
  /** The backend that listed it ("native", "socket", "in-process"). */
  backend: string;
  /** Stable within a backend: "1-1.4" (bus-ports), a socket path, a model name. */
  id: string;
  vendorId: number;
  productId: number;
  /** bcdDevice. */
  bcdDevice?: number;
  /** USB bus number and port path ("1-1.4"), where the backend knows them. */
  busNumber?: number;
  portPath?: string;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
}

/** Chooses devices from a listing; every given field must match. */
export interface UsbSelector {
  vendorId?: number;
  productId?: number;
  serialNumber?: string;
  portPath?: string;
  /** A backend's own id (socket path, model name). */
  id?: string;
}

export function matchesSelector(d: UsbDeviceInfo, s: UsbSelector): boolean {
  return (
    (s.vendorId === undefined || d.vendorId === s.vendorId) &&
    (s.productId === undefined || d.productId === s.productId) &&
    (s.serialNumber === undefined || d.serialNumber === s.serialNumber) &&
    (s.portPath === undefined || d.portPath === s.portPath) &&
    (s.id === undefined || d.id === s.id)
  );
}

/** "0483:df11". */
export const formatUsbId = (vid: number, pid: number): string =>
  `${vid.toString(16).padStart(4, "0")}:${pid.toString(16).padStart(4, "0")}`;

/** An opened device. Every call may throw a UsbError (usb/errors.ts). */
export interface UsbDevice {
  readonly info: UsbDeviceInfo;
  /** The device descriptor (read at open). */
  readonly deviceDescriptor: DeviceDescriptor;
  /** The active configuration's descriptor, parsed (read at open). */
  configDescriptor(): Promise<ConfigDescriptor>;
  /** A string descriptor in US English; undefined when the index is 0 or the device has none. */
  getString(index: number): Promise<string | undefined>;
  /** IN control transfer: resolves with the bytes the device returned (≤ length). */
  controlIn(
    setup: Omit<SetupPacket, "wLength">,
    length: number,
    timeoutMs: number,
  ): Promise<Uint8Array>;
  /** OUT control transfer: resolves with the byte count the device took. */
  controlOut(
    setup: Omit<SetupPacket, "wLength">,
    data: Uint8Array,
    timeoutMs: number,
  ): Promise<number>;
  /** Bulk or interrupt IN on `endpoint` (address with bit 7 set). */
  transferIn(endpoint: number, length: number, timeoutMs: number): Promise<Uint8Array>;
  /** Bulk or interrupt OUT on `endpoint`. */
  transferOut(endpoint: number, data: Uint8Array, timeoutMs: number): Promise<number>;
  claimInterface(iface: number): Promise<void>;
  releaseInterface(iface: number): Promise<void>;
  /** SET_INTERFACE (standard request 11) for a claimed interface. */
  setAltSetting(iface: number, alt: number): Promise<void>;
  /** A USB port reset; the device may re-enumerate (then this handle is gone). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** A source of devices. */
export interface UsbBackend {
  readonly name: string;
  list(): Promise<UsbDeviceInfo[]>;
  open(info: UsbDeviceInfo): Promise<UsbDevice>;
}

/** The devices of `backend` that match `selector`. */
export async function findDevices(
  backend: UsbBackend,
  selector: UsbSelector,
): Promise<UsbDeviceInfo[]> {
  return (await backend.list()).filter((d) => matchesSelector(d, selector));
}
