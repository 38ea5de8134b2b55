// Builds the descriptor bytes a USB device model serves (the inverse of
// src/usb/descriptors.ts). Pure.

export interface DeviceSpec {
  vendorId: number;
  productId: number;
  bcdDevice?: number;
  bcdUSB?: number;
  deviceClass?: number;
  maxPacketSize0?: number;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
}

export interface EndpointSpec {
  address: number;
  /** 2 bulk, 3 interrupt. */
  attributes: number;
  maxPacketSize: number;
  interval?: number;
}

export interface AltSettingSpec {
  iface: number;
  alt: number;
  class: number;
  subClass: number;
  protocol: number;
  /** The interface string (DfuSe puts its memory layout here). */
  name?: string;
  endpoints?: EndpointSpec[];
  /** Class-specific descriptors after the interface descriptor (DFU functional, HID). */
  extra?: Uint8Array;
}

export interface DescriptorSet {
  device: Uint8Array;
  config: Uint8Array;
  /** String descriptors by index (0 = the language list). */
  strings: Map<number, Uint8Array>;
}

export function stringDescriptor(s: string): Uint8Array {
  const b = new Uint8Array(2 + 2 * s.length);
  b[0] = b.length;
  b[1] = 3;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    b[2 + 2 * i] = c & 0xff;
    b[3 + 2 * i] = c >> 8;
  }
  return b;
}

export function buildDescriptors(dev: DeviceSpec, alts: AltSettingSpec[]): DescriptorSet {
  const strings = new Map<number, Uint8Array>([[0, Uint8Array.of(4, 3, 0x09, 0x04)]]);
  const str = (s: string | undefined): number => {
    if (s === undefined) return 0;
    const i = strings.size;
    strings.set(i, stringDescriptor(s));
    return i;
  };
  const iManufacturer = str(dev.manufacturer);
  const iProduct = str(dev.product);
  const iSerial = str(dev.serialNumber);
  const u16 = (n: number) => [n & 0xff, n >> 8];
  const device = Uint8Array.from([
    18,
    1,
    ...u16(dev.bcdUSB ?? 0x0200),
    dev.deviceClass ?? 0,
    0,
    0,
    dev.maxPacketSize0 ?? 64,
    ...u16(dev.vendorId),
    ...u16(dev.productId),
    ...u16(dev.bcdDevice ?? 0x0100),
    iManufacturer,
    iProduct,
    iSerial,
    1,
  ]);
  const body: number[] = [];
  for (const a of alts) {
    body.push(
      9,
      4,
      a.iface,
      a.alt,
      a.endpoints?.length ?? 0,
      a.class,
      a.subClass,
      a.protocol,
      str(a.name),
    );
    if (a.extra) body.push(...a.extra);
    for (const e of a.endpoints ?? [])
      body.push(7, 5, e.address, e.attributes, ...u16(e.maxPacketSize), e.interval ?? 0);
  }
  const numInterfaces = new Set(alts.map((a) => a.iface)).size;
  const total = 9 + body.length;
  const config = Uint8Array.from([9, 2, ...u16(total), numInterfaces, 1, 0, 0x80, 50, ...body]);
  return { device, config, strings };
}
