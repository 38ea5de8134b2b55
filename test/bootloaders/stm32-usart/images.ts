// Cortex-M images for the STM32 tests, shaped like real builds: a vector
// table at the start (initial stack pointer at the top of RAM, Thumb
// handlers spread over the code, as a linker lays out a program's
// functions), then code-like bytes. `linkedAt` is where the image is linked;
// write it elsewhere and its vectors point to the wrong place.
import { randomBytes } from "../../../src/util/random.js";
import { klipperDictionaryZlib } from "../../../src/sim/klipper-image.js";

export interface ArmImageOptions {
  size: number;
  linkedAt: number;
  seed?: number;
  /** Words of the vector table (F103 medium density: 16 + 43). */
  vectorWords?: number;
  /** Embed a Klipper data dictionary for this MCU. */
  klipperMcu?: string;
}

export function armImage(o: ArmImageOptions): Uint8Array {
  const img = randomBytes(o.size, o.seed ?? o.size);
  const words = o.vectorWords ?? 59;
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  dv.setUint32(0, 0x20005000, true);
  const codeStart = words * 4;
  const codeEnd = Math.floor(o.size * 0.7);
  for (let i = 1; i < words; i++) {
    const reserved = [7, 8, 9, 10, 13].includes(i);
    // Handlers spread from the first function to the end of the code.
    const off = codeStart + Math.floor(((codeEnd - codeStart) * ((i * 37) % words)) / words);
    dv.setUint32(i * 4, reserved ? 0 : (o.linkedAt + (off & ~1)) | 1, true);
  }
  if (o.klipperMcu) {
    const dict = klipperDictionaryZlib({ mcu: o.klipperMcu, transport: "serial" });
    img.set(dict, codeEnd);
  }
  return img;
}

/** Intel HEX of `data` at `address` (type 04 records for the upper 16 bits, 16 bytes a line). */
export function intelHex(address: number, data: Uint8Array): string {
  const line = (type: number, addr: number, bytes: number[]): string => {
    const rec = [bytes.length, (addr >>> 8) & 0xff, addr & 0xff, type, ...bytes];
    const sum = (0x100 - (rec.reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
    return `:${[...rec, sum].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join("")}\n`;
  };
  let out = "";
  let upper = -1;
  for (let i = 0; i < data.length; i += 16) {
    const a = address + i;
    if (a >>> 16 !== upper) {
      upper = a >>> 16;
      out += line(4, 0, [upper >>> 8, upper & 0xff]);
    }
    out += line(0, a & 0xffff, Array.from(data.subarray(i, i + 16)));
  }
  return out + ":00000001FF\n";
}
