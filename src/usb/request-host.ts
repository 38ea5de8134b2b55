// A UsbDevice on top of one "send a request, get a reply" function: the
// host half shared by the in-process and socket backends. Standard requests
// (descriptors, strings, SET_INTERFACE) are built here; each call has its
// deadline on the given clock (the socket format carries a timeout only for
// endpoint transfers; control transfers are timed here).

import { realClock, type Clock } from "../util/clock.js";
import type { SetupPacket, UsbDevice, UsbDeviceInfo } from "./device.js";
import {
  DescriptorType,
  parseConfigDescriptor,
  parseDeviceDescriptor,
  parseStringDescriptor,
  type ConfigDescriptor,
  type DeviceDescriptor,
} from "./descriptors.js";
import { transferError, UsbStatus } from "./errors.js";
import { isIn, type UsbReply, type UsbRequest } from "./wire.js";

export type SendRequest = (r: UsbRequest) => Promise<UsbReply>;

/** Deadline of the standard requests canflash makes itself (descriptors, strings, SET_INTERFACE), ms. */
export const STANDARD_REQUEST_TIMEOUT_MS = 1000;
/** Deadline of claim, release and reset, ms. */
export const HANDLE_OP_TIMEOUT_MS = 2000;
/** Extra time the host gives an endpoint transfer beyond its own timeout before giving up on the reply, ms. */
export const TRANSFER_REPLY_GRACE_MS = 500;

const GET_DESCRIPTOR = 6;
const SET_INTERFACE = 11;
const LANG_EN_US = 0x0409;

/** Reads the device descriptor and strings through `send`: the listing entry of one device. */
export async function describeModel(
  backend: string,
  id: string,
  portPath: string | undefined,
  send: SendRequest,
): Promise<UsbDeviceInfo> {
  const host = await RequestHost.open(
    { backend, id, vendorId: 0, productId: 0, ...(portPath ? { portPath } : {}) },
    send,
    async () => {},
  );
  const d = host.deviceDescriptor;
  const [manufacturer, product, serialNumber] = await Promise.all([
    host.getString(d.iManufacturer),
    host.getString(d.iProduct),
    host.getString(d.iSerialNumber),
  ]);
  return {
    backend,
    id,
    vendorId: d.idVendor,
    productId: d.idProduct,
    bcdDevice: d.bcdDevice,
    ...(portPath ? { portPath } : {}),
    ...(manufacturer !== undefined ? { manufacturer } : {}),
    ...(product !== undefined ? { product } : {}),
    ...(serialNumber !== undefined ? { serialNumber } : {}),
  };
}

export class RequestHost implements UsbDevice {
  private closed = false;
  private constructor(
    readonly info: UsbDeviceInfo,
    readonly deviceDescriptor: DeviceDescriptor,
    private readonly send: SendRequest,
    private readonly onClose: () => Promise<void>,
    private readonly clock: Clock,
  ) {}

  /** Opens: reads the device descriptor (a device that does not answer is gone). */
  static async open(
    info: UsbDeviceInfo,
    send: SendRequest,
    onClose: () => Promise<void>,
    clock: Clock = realClock,
  ): Promise<RequestHost> {
    const probe = new RequestHost(info, undefined as never, send, onClose, clock);
    const raw = await probe.controlIn(
      {
        bmRequestType: 0x80,
        bRequest: GET_DESCRIPTOR,
        wValue: DescriptorType.DEVICE << 8,
        wIndex: 0,
      },
      18,
      STANDARD_REQUEST_TIMEOUT_MS,
    );
    const d = parseDeviceDescriptor(raw);
    const filled =
      info.vendorId || info.productId
        ? info
        : { ...info, vendorId: d.idVendor, productId: d.idProduct };
    return new RequestHost(filled, d, send, onClose, clock);
  }

  /** A handle on a device that is gone: every call fails with USB_NO_DEVICE. */
  static gone(info: UsbDeviceInfo): never {
    throw transferError(UsbStatus.NO_DEVICE, "open", label(info));
  }

  async configDescriptor(): Promise<ConfigDescriptor> {
    const setup = {
      bmRequestType: 0x80,
      bRequest: GET_DESCRIPTOR,
      wValue: DescriptorType.CONFIGURATION << 8,
      wIndex: 0,
    };
    const head = await this.controlIn(setup, 9, STANDARD_REQUEST_TIMEOUT_MS);
    const total = head.length >= 4 ? head[2]! | (head[3]! << 8) : 9;
    const full = await this.controlIn(setup, total, STANDARD_REQUEST_TIMEOUT_MS);
    return parseConfigDescriptor(full);
  }

  async getString(index: number): Promise<string | undefined> {
    if (!index) return undefined;
    try {
      const raw = await this.controlIn(
        {
          bmRequestType: 0x80,
          bRequest: GET_DESCRIPTOR,
          wValue: (DescriptorType.STRING << 8) | index,
          wIndex: LANG_EN_US,
        },
        255,
        STANDARD_REQUEST_TIMEOUT_MS,
      );
      return parseStringDescriptor(raw);
    } catch (e) {
      if ((e as { code?: string }).code === "USB_STALL") return undefined;
      throw e;
    }
  }

  async controlIn(
    setup: Omit<SetupPacket, "wLength">,
    length: number,
    timeoutMs: number,
  ): Promise<Uint8Array> {
    const op = `control IN 0x${setup.bmRequestType.toString(16)}/${setup.bRequest}`;
    const r = await this.call(
      {
        op: "control",
        setup: { ...setup, bmRequestType: setup.bmRequestType | 0x80, wLength: length },
      },
      timeoutMs,
      op,
    );
    return (r.data ?? new Uint8Array(0)).subarray(0, Math.min(r.status, length));
  }

  async controlOut(
    setup: Omit<SetupPacket, "wLength">,
    data: Uint8Array,
    timeoutMs: number,
  ): Promise<number> {
    const op = `control OUT 0x${setup.bmRequestType.toString(16)}/${setup.bRequest}`;
    const r = await this.call(
      {
        op: "control",
        setup: { ...setup, bmRequestType: setup.bmRequestType & 0x7f, wLength: data.length },
        data,
      },
      timeoutMs,
      op,
    );
    return r.status;
  }

  async transferIn(endpoint: number, length: number, timeoutMs: number): Promise<Uint8Array> {
    const op = `transfer IN 0x${endpoint.toString(16)}`;
    const r = await this.call(
      { op: "transfer", endpoint: endpoint | 0x80, timeoutMs, length },
      timeoutMs + TRANSFER_REPLY_GRACE_MS,
      op,
    );
    if (r.status > length) throw transferError(UsbStatus.OVERFLOW, op, label(this.info));
    return (r.data ?? new Uint8Array(0)).subarray(0, r.status);
  }

  async transferOut(endpoint: number, data: Uint8Array, timeoutMs: number): Promise<number> {
    const op = `transfer OUT 0x${endpoint.toString(16)}`;
    const r = await this.call(
      { op: "transfer", endpoint: endpoint & 0x7f, timeoutMs, length: 0, data },
      timeoutMs + TRANSFER_REPLY_GRACE_MS,
      op,
    );
    return r.status;
  }

  async claimInterface(iface: number): Promise<void> {
    await this.call({ op: "claim", iface }, HANDLE_OP_TIMEOUT_MS, `claim interface ${iface}`);
  }

  async releaseInterface(iface: number): Promise<void> {
    await this.call({ op: "release", iface }, HANDLE_OP_TIMEOUT_MS, `release interface ${iface}`);
  }

  async setAltSetting(iface: number, alt: number): Promise<void> {
    await this.controlOut(
      { bmRequestType: 0x01, bRequest: SET_INTERFACE, wValue: alt, wIndex: iface },
      new Uint8Array(0),
      STANDARD_REQUEST_TIMEOUT_MS,
    );
  }

  async reset(): Promise<void> {
    await this.call({ op: "reset" }, HANDLE_OP_TIMEOUT_MS, "reset");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.onClose();
  }

  /** Sends one request with a deadline; a negative status becomes its UsbTransferError. */
  private async call(r: UsbRequest, timeoutMs: number, op: string): Promise<UsbReply> {
    if (this.closed) throw transferError(UsbStatus.NO_DEVICE, op, label(this.info));
    let cancel = (): void => undefined;
    const timeout = new Promise<UsbReply>((resolve) => {
      cancel = this.clock.schedule(timeoutMs, () => resolve({ status: UsbStatus.TIMEOUT }));
    });
    let reply: UsbReply;
    try {
      reply = await Promise.race([this.send(r), timeout]);
    } finally {
      cancel();
    }
    if (reply.status < 0) throw transferError(reply.status, op, label(this.info));
    if (isIn(r) && reply.status > 0 && (reply.data?.length ?? 0) < reply.status)
      throw transferError(UsbStatus.IO, `${op}: short reply`, label(this.info));
    return reply;
  }
}

/** "0483:df11 (dfuse-f4)" for messages. */
export function label(info: UsbDeviceInfo): string {
  const id = `${info.vendorId.toString(16).padStart(4, "0")}:${info.productId.toString(16).padStart(4, "0")}`;
  return info.portPath ? `${id} at ${info.portPath}` : `${id} (${info.id})`;
}
