// The STM32 HID bootloader's reports (Serasidis / Arksine's Klipper fork, as
// hid-flash speaks them; hid-bootloader.md): 64-byte output reports that are
// either "BTLDCMD" + a command + 56 zeros or raw image bytes, and the 8-byte
// input report "BTLDCMD" + a status that acks each KiB. Pure.

export const REPORT_SIZE = 64;
export const ACK_SIZE = 8;
/** The host streams the image in 1 KiB groups and waits for an ack after each. */
export const CHUNK_SIZE = 1024;
/** Pages of the high-density F1 builds (the Klipper fork acks them with 0x03). */
export const DOUBLE_CHUNK = 2048;

const MAGIC = [0x42, 0x54, 0x4c, 0x44, 0x43, 0x4d, 0x44]; // "BTLDCMD"

export const HidCommand = { RESET_PAGES: 0x00, REBOOT: 0x01 } as const;
export const HidAck = {
  /** 1 KiB taken, send the next. */
  NEXT: 0x02,
  /** The same, from a build that writes 2 KiB pages: the host pads the image to 2 KiB. */
  NEXT_2K: 0x03,
} as const;

/** The oldest bootloader hid-flash talks to (bcdDevice). */
export const MIN_BCD_DEVICE = 0x0300;

/** A command report: "BTLDCMD", the command, 56 zeros. */
export function encodeCommand(cmd: number): Uint8Array {
  const r = new Uint8Array(REPORT_SIZE);
  r.set(MAGIC);
  r[7] = cmd;
  return r;
}

const hasMagic = (b: Uint8Array): boolean => MAGIC.every((m, i) => b[i] === m);

/** The command a report carries (F1 needs the 56 zeros; F4 takes any "BTLDCMD" report), or undefined for data. */
export function decodeCommand(r: Uint8Array, strict: boolean): number | undefined {
  if (r.length !== REPORT_SIZE || !hasMagic(r)) return undefined;
  if (strict && !r.subarray(8).every((b) => b === 0)) return undefined;
  return r[7];
}

export function encodeAck(status: number): Uint8Array {
  const r = new Uint8Array(ACK_SIZE);
  r.set(MAGIC);
  r[7] = status;
  return r;
}

/** The ack status of an input report, or undefined when it is none. */
export function decodeAck(r: Uint8Array): number | undefined {
  if (r.length < ACK_SIZE || !hasMagic(r)) return undefined;
  return r[7] === HidAck.NEXT || r[7] === HidAck.NEXT_2K ? r[7] : undefined;
}

/** The 64-byte reports of one 1 KiB chunk. */
export function chunkReports(chunk: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < chunk.length; o += REPORT_SIZE) out.push(chunk.subarray(o, o + REPORT_SIZE));
  return out;
}

/** Where the application starts on each bootloader build (the first page it writes). */
export const HID_APP_START: Readonly<Record<string, number>> = {
  stm32f103: 0x0800_0800,
  stm32f407: 0x0800_4000,
};
