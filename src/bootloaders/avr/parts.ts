// The AVR parts Klipper's serial bootloaders serve (stk500v1.md §6,
// stk500v2.md, avrdude.conf facts): signature, flash and page sizes, and
// the STK500 device code. Devices as data.

export interface AvrPart {
  name: string;
  signature: readonly [number, number, number];
  flashSize: number;
  pageSize: number;
  eepromSize: number;
  /** STK500 SET_DEVICE device code (ignored by the Arduino bootloaders). */
  stk500DevCode: number;
}

export const AVR_PARTS: readonly AvrPart[] = [
  {
    name: "atmega168",
    signature: [0x1e, 0x94, 0x06],
    flashSize: 0x4000,
    pageSize: 128,
    eepromSize: 512,
    stk500DevCode: 0x86,
  },
  {
    name: "atmega328p",
    signature: [0x1e, 0x95, 0x0f],
    flashSize: 0x8000,
    pageSize: 128,
    eepromSize: 1024,
    stk500DevCode: 0x86,
  },
  {
    name: "atmega1280",
    signature: [0x1e, 0x97, 0x03],
    flashSize: 0x20000,
    pageSize: 256,
    eepromSize: 4096,
    stk500DevCode: 0xb2,
  },
  {
    name: "atmega1284p",
    signature: [0x1e, 0x97, 0x05],
    flashSize: 0x20000,
    pageSize: 256,
    eepromSize: 4096,
    stk500DevCode: 0x82,
  },
  {
    name: "atmega2560",
    signature: [0x1e, 0x98, 0x01],
    flashSize: 0x40000,
    pageSize: 256,
    eepromSize: 4096,
    stk500DevCode: 0xb2,
  },
];

export function findAvrPart(name: string): AvrPart | undefined {
  return AVR_PARTS.find((p) => p.name === name.toLowerCase());
}

/** The part a signature belongs to. */
export function partBySignature(sig: ArrayLike<number>): AvrPart | undefined {
  return AVR_PARTS.find((p) => p.signature.every((b, i) => b === sig[i]));
}

export const formatSignature = (sig: ArrayLike<number>) =>
  Array.from(sig, (b) => b.toString(16).padStart(2, "0")).join(" ");
