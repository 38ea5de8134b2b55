// Standard USB descriptors (USB 2.0 §9.6), parsed as libusb does: the
// configuration descriptor's interfaces, alternate settings and endpoints,
// with class-specific descriptors that follow an interface (DFU's
// functional descriptor, HID's) kept in `extra`. Pure.

export const DescriptorType = {
  DEVICE: 1,
  CONFIGURATION: 2,
  STRING: 3,
  INTERFACE: 4,
  ENDPOINT: 5,
} as const;

export interface DeviceDescriptor {
  bcdUSB: number;
  bDeviceClass: number;
  bDeviceSubClass: number;
  bDeviceProtocol: number;
  bMaxPacketSize0: number;
  idVendor: number;
  idProduct: number;
  bcdDevice: number;
  iManufacturer: number;
  iProduct: number;
  iSerialNumber: number;
  bNumConfigurations: number;
}

export interface EndpointDescriptor {
  bEndpointAddress: number;
  bmAttributes: number;
  wMaxPacketSize: number;
  bInterval: number;
  extra: Uint8Array;
}

export interface InterfaceDescriptor {
  bInterfaceNumber: number;
  bAlternateSetting: number;
  bInterfaceClass: number;
  bInterfaceSubClass: number;
  bInterfaceProtocol: number;
  iInterface: number;
  endpoints: EndpointDescriptor[];
  /** Class-specific descriptors after the interface descriptor (DFU functional, HID). */
  extra: Uint8Array;
}

export interface ConfigDescriptor {
  bConfigurationValue: number;
  bmAttributes: number;
  bMaxPower: number;
  iConfiguration: number;
  /** Every alternate setting of every interface, in descriptor order. */
  interfaces: InterfaceDescriptor[];
}

/** A descriptor that cannot be parsed (a device model or firmware bug). */
export class DescriptorParseError extends Error {
  constructor(
    readonly what: string,
    readonly offset: number,
  ) {
    super(`malformed USB ${what} descriptor at byte ${offset}`);
  }
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);

export function parseDeviceDescriptor(b: Uint8Array): DeviceDescriptor {
  if (b.length < 18 || b[0]! < 18 || b[1] !== DescriptorType.DEVICE)
    throw new DescriptorParseError("device", 0);
  return {
    bcdUSB: u16(b, 2),
    bDeviceClass: b[4]!,
    bDeviceSubClass: b[5]!,
    bDeviceProtocol: b[6]!,
    bMaxPacketSize0: b[7]!,
    idVendor: u16(b, 8),
    idProduct: u16(b, 10),
    bcdDevice: u16(b, 12),
    iManufacturer: b[14]!,
    iProduct: b[15]!,
    iSerialNumber: b[16]!,
    bNumConfigurations: b[17]!,
  };
}

/** Parses a whole configuration descriptor (wTotalLength bytes). */
export function parseConfigDescriptor(b: Uint8Array): ConfigDescriptor {
  if (b.length < 9 || b[1] !== DescriptorType.CONFIGURATION)
    throw new DescriptorParseError("configuration", 0);
  const total = Math.min(u16(b, 2), b.length);
  const cfg: ConfigDescriptor = {
    bConfigurationValue: b[5]!,
    iConfiguration: b[6]!,
    bmAttributes: b[7]!,
    bMaxPower: b[8]!,
    interfaces: [],
  };
  let iface: InterfaceDescriptor | undefined;
  let endpoint: EndpointDescriptor | undefined;
  const extras: number[][] = [];
  const flushExtra = () => {
    const bytes = Uint8Array.from(extras.flat());
    extras.length = 0;
    if (endpoint) endpoint.extra = concat(endpoint.extra, bytes);
    else if (iface) iface.extra = concat(iface.extra, bytes);
  };
  let o = b[0]!;
  while (o + 2 <= total) {
    const len = b[o]!;
    const type = b[o + 1]!;
    if (len < 2 || o + len > total) throw new DescriptorParseError("configuration", o);
    const d = b.subarray(o, o + len);
    if (type === DescriptorType.INTERFACE) {
      flushExtra();
      if (len < 9) throw new DescriptorParseError("interface", o);
      iface = {
        bInterfaceNumber: d[2]!,
        bAlternateSetting: d[3]!,
        bInterfaceClass: d[5]!,
        bInterfaceSubClass: d[6]!,
        bInterfaceProtocol: d[7]!,
        iInterface: d[8]!,
        endpoints: [],
        extra: new Uint8Array(0),
      };
      endpoint = undefined;
      cfg.interfaces.push(iface);
    } else if (type === DescriptorType.ENDPOINT && iface) {
      flushExtra();
      if (len < 7) throw new DescriptorParseError("endpoint", o);
      endpoint = {
        bEndpointAddress: d[2]!,
        bmAttributes: d[3]!,
        wMaxPacketSize: u16(d, 4),
        bInterval: d[6]!,
        extra: new Uint8Array(0),
      };
      iface.endpoints.push(endpoint);
    } else {
      extras.push(Array.from(d));
    }
    o += len;
  }
  flushExtra();
  return cfg;
}

/** A string descriptor's UTF-16LE text. */
export function parseStringDescriptor(b: Uint8Array): string {
  if (b.length < 2 || b[1] !== DescriptorType.STRING) throw new DescriptorParseError("string", 0);
  const len = Math.min(b[0]!, b.length);
  let s = "";
  for (let o = 2; o + 1 < len; o += 2) s += String.fromCharCode(u16(b, o));
  return s;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
