// The native USB backend, for users: the `usb` package (2.x: libusb
// compiled in statically, prebuilt for Linux, macOS and Windows; installs
// from the registry alone), an optional dependency imported the first time
// a USB device is listed. Requests go through the same host half as the
// other backends (request-host.ts), so descriptors, strings and
// SET_INTERFACE are read and parsed by canflash, not by the addon.

import { loadAddon, type AddonSpec } from "../util/native.js";
import type { UsbBackend, UsbDevice, UsbDeviceInfo } from "./device.js";
import { UsbAccessError, UsbStatus } from "./errors.js";
import { RequestHost } from "./request-host.js";
import type { UsbReply, UsbRequest } from "./wire.js";

export const USB_ADDON: AddonSpec = {
  addon: "usb",
  nativePackage: "usb",
  purpose: "USB bootloaders (DFU, HID, HalfKay, PICOBOOT)",
};

/** The libusb timeout set on control transfers; the host half holds the real deadline, ms. */
export const NATIVE_CONTROL_TIMEOUT_MS = 30_000;

interface LibUsbError extends Error {
  errno?: number;
}
type Cb<T> = (error: LibUsbError | undefined, value?: T) => void;

interface NativeEndpoint {
  address: number;
  timeout: number;
  transfer(lengthOrData: number | Buffer, cb: Cb<Buffer | number>): void;
}
interface NativeInterface {
  endpoints: NativeEndpoint[];
  claim(): void;
  release(cb: Cb<void>): void;
  isKernelDriverActive(): boolean;
  detachKernelDriver(): void;
}
interface NativeDevice {
  busNumber: number;
  deviceAddress: number;
  portNumbers?: number[];
  timeout: number;
  deviceDescriptor: {
    idVendor: number;
    idProduct: number;
    bcdDevice: number;
    iManufacturer: number;
    iProduct: number;
    iSerialNumber: number;
  };
  open(): void;
  close(): void;
  interface(n: number): NativeInterface;
  controlTransfer(
    bmRequestType: number,
    bRequest: number,
    wValue: number,
    wIndex: number,
    dataOrLength: number | Buffer,
    cb: Cb<Buffer | number>,
  ): void;
  getStringDescriptor(index: number, cb: Cb<string>): void;
  reset(cb: Cb<void>): void;
}
interface UsbModule {
  getDeviceList(): NativeDevice[];
}

const loadUsb = () => loadAddon<UsbModule>(USB_ADDON, () => import("usb"));

const portPathOf = (d: NativeDevice) =>
  d.portNumbers && d.portNumbers.length > 0
    ? `${d.busNumber}-${d.portNumbers.join(".")}`
    : `${d.busNumber}-${d.deviceAddress}`;

const nodePath = (d: NativeDevice) =>
  `/dev/bus/usb/${String(d.busNumber).padStart(3, "0")}/${String(d.deviceAddress).padStart(3, "0")}`;

const statusOf = (e: LibUsbError): number =>
  typeof e.errno === "number" && e.errno < 0 ? e.errno : UsbStatus.IO;

/** Opens the device; EACCES (no udev rule) is UsbAccessError. */
function openNative(d: NativeDevice): void {
  try {
    d.open();
  } catch (e) {
    const status = statusOf(e as LibUsbError);
    if (status === UsbStatus.ACCESS)
      throw new UsbAccessError(
        d.deviceDescriptor.idVendor,
        d.deviceDescriptor.idProduct,
        nodePath(d),
      );
    throw e;
  }
}

function sendNative(d: NativeDevice, r: UsbRequest): Promise<UsbReply> {
  return new Promise((resolve) => {
    const done: Cb<Buffer | number> = (err, v) => {
      if (err) return resolve({ status: statusOf(err) });
      if (typeof v === "number") return resolve({ status: v });
      if (v) return resolve({ status: v.length, data: new Uint8Array(v) });
      resolve({ status: 0 });
    };
    try {
      switch (r.op) {
        case "control": {
          const s = r.setup;
          d.timeout = NATIVE_CONTROL_TIMEOUT_MS;
          const inDir = (s.bmRequestType & 0x80) !== 0;
          d.controlTransfer(
            s.bmRequestType,
            s.bRequest,
            s.wValue,
            s.wIndex,
            inDir ? s.wLength : Buffer.from(r.data ?? new Uint8Array(0)),
            (err, v) => (!err && !inDir ? resolve({ status: r.data?.length ?? 0 }) : done(err, v)),
          );
          return;
        }
        case "transfer": {
          const ep = endpointOf(d, r.endpoint);
          if (!ep) return resolve({ status: UsbStatus.NOT_FOUND });
          ep.timeout = r.timeoutMs;
          const inDir = (r.endpoint & 0x80) !== 0;
          ep.transfer(inDir ? r.length : Buffer.from(r.data ?? new Uint8Array(0)), (err, v) =>
            !err && !inDir ? resolve({ status: r.data?.length ?? 0 }) : done(err, v),
          );
          return;
        }
        case "claim": {
          const i = d.interface(r.iface);
          if (i.isKernelDriverActive()) i.detachKernelDriver();
          i.claim();
          return resolve({ status: 0 });
        }
        case "release":
          return d.interface(r.iface).release((err) => done(err));
        case "reset":
          return d.reset((err) => done(err));
      }
    } catch (e) {
      resolve({ status: statusOf(e as LibUsbError) });
    }
  });
}

function endpointOf(d: NativeDevice, address: number): NativeEndpoint | undefined {
  for (let n = 0; n < 32; n++) {
    let i: NativeInterface | undefined;
    try {
      i = d.interface(n);
    } catch {
      return undefined;
    }
    if (!i) return undefined;
    const ep = i.endpoints.find((e) => e.address === address);
    if (ep) return ep;
  }
  return undefined;
}

const stringOf = (d: NativeDevice, index: number): Promise<string | undefined> =>
  index
    ? new Promise((resolve) => d.getStringDescriptor(index, (e, v) => resolve(e ? undefined : v)))
    : Promise.resolve(undefined);

export class NativeUsbBackend implements UsbBackend {
  readonly name = "native";
  private readonly byId = new Map<string, NativeDevice>();

  async list(): Promise<UsbDeviceInfo[]> {
    const usb = await loadUsb();
    const out: UsbDeviceInfo[] = [];
    this.byId.clear();
    for (const d of usb.getDeviceList()) {
      const dd = d.deviceDescriptor;
      const portPath = portPathOf(d);
      this.byId.set(portPath, d);
      const info: UsbDeviceInfo = {
        backend: this.name,
        id: portPath,
        vendorId: dd.idVendor,
        productId: dd.idProduct,
        bcdDevice: dd.bcdDevice,
        busNumber: d.busNumber,
        portPath,
      };
      // Strings need an open device; one this user may not open is listed without them.
      try {
        d.open();
        const [manufacturer, product, serialNumber] = [
          await stringOf(d, dd.iManufacturer),
          await stringOf(d, dd.iProduct),
          await stringOf(d, dd.iSerialNumber),
        ];
        if (manufacturer !== undefined) info.manufacturer = manufacturer;
        if (product !== undefined) info.product = product;
        if (serialNumber !== undefined) info.serialNumber = serialNumber;
        d.close();
      } catch {
        /* no access: ids only */
      }
      out.push(info);
    }
    return out;
  }

  async open(info: UsbDeviceInfo): Promise<UsbDevice> {
    if (!this.byId.has(info.id)) await this.list();
    const d = this.byId.get(info.id);
    if (!d) return RequestHost.gone(info);
    openNative(d);
    try {
      return await RequestHost.open(
        info,
        (r) => sendNative(d, r),
        async () => d.close(),
      );
    } catch (e) {
      d.close();
      throw e;
    }
  }
}
