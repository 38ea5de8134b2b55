// STK500v2 (AVR068) messages, pure (stk500v2.md §2–§6):
//   1B seq sizeH sizeL 0E body… checksum   (checksum = XOR of all bytes before it)
// body[0] is the command id; a reply echoes it and puts the status in body[1].

export const MESSAGE_START = 0x1b;
export const TOKEN = 0x0e;
/** The Arduino Mega bootloader's receive buffer (body bytes). */
export const BOOTLOADER_MAX_BODY = 285;

export const Cmd = {
  SIGN_ON: 0x01,
  SET_PARAMETER: 0x02,
  GET_PARAMETER: 0x03,
  LOAD_ADDRESS: 0x06,
  ENTER_PROGMODE_ISP: 0x10,
  LEAVE_PROGMODE_ISP: 0x11,
  CHIP_ERASE_ISP: 0x12,
  PROGRAM_FLASH_ISP: 0x13,
  READ_FLASH_ISP: 0x14,
  READ_SIGNATURE_ISP: 0x1b,
} as const;

export const Status = {
  CMD_OK: 0x00,
  CMD_TOUT: 0x80,
  RDY_BSY_TOUT: 0x81,
  SET_PARAM_MISSING: 0x82,
  CMD_FAILED: 0xc0,
  CKSUM_ERROR: 0xc1,
  CMD_UNKNOWN: 0xc9,
} as const;

export const Param = { HW_VERSION: 0x90, SW_MAJOR: 0x91, SW_MINOR: 0x92 } as const;

export function statusName(s: number | undefined): string {
  const name = Object.entries(Status).find(([, v]) => v === s)?.[0];
  return s === undefined
    ? "no status"
    : `${name ?? "status"} (0x${s.toString(16).padStart(2, "0")})`;
}

const xor = (bytes: ArrayLike<number>, end: number) => {
  let x = 0;
  for (let i = 0; i < end; i++) x ^= bytes[i]!;
  return x;
};

export function encodeMessage(seq: number, body: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(6 + body.length);
  out[0] = MESSAGE_START;
  out[1] = seq & 0xff;
  out[2] = (body.length >>> 8) & 0xff;
  out[3] = body.length & 0xff;
  out[4] = TOKEN;
  out.set(Array.from(body), 5);
  out[out.length - 1] = xor(out, out.length - 1);
  return out;
}

export interface Message {
  seq: number;
  body: Uint8Array;
}

/**
 * Finds messages in a byte stream: skips to 0x1B, checks the token and the
 * checksum; on a bad message resumes the search one byte after its start.
 * Bodies longer than `maxBody` are treated as noise.
 */
export class MessageReader {
  private buf = new Uint8Array(0);
  /** Bad messages and bytes skipped, for diagnostics. */
  bad = 0;

  constructor(private readonly maxBody = 0xffff) {}

  push(bytes: Uint8Array): Message[] {
    const next = new Uint8Array(this.buf.length + bytes.length);
    next.set(this.buf);
    next.set(bytes, this.buf.length);
    this.buf = next;
    const out: Message[] = [];
    let pos = 0;
    for (;;) {
      const start = this.buf.indexOf(MESSAGE_START, pos);
      if (start < 0) {
        pos = this.buf.length;
        break;
      }
      pos = start;
      if (this.buf.length - pos < 5) break;
      const size = (this.buf[pos + 2]! << 8) | this.buf[pos + 3]!;
      if (this.buf[pos + 4] !== TOKEN || size === 0 || size > this.maxBody) {
        this.bad++;
        pos++;
        continue;
      }
      if (this.buf.length - pos < 6 + size) break;
      const end = pos + 5 + size;
      if (xor(this.buf.subarray(pos, end), end - pos) !== this.buf[end]) {
        this.bad++;
        pos++;
        continue;
      }
      out.push({ seq: this.buf[pos + 1]!, body: this.buf.slice(pos + 5, end) });
      pos = end + 1;
    }
    this.buf = this.buf.slice(pos);
    return out;
  }
}

export const signOn = () => [Cmd.SIGN_ON];
export const getParameter = (p: number) => [Cmd.GET_PARAMETER, p];

/** ENTER_PROGMODE_ISP with the m2560 values of avrdude.conf (the Arduino bootloader reads only the id). */
export const enterProgmode = () => [
  Cmd.ENTER_PROGMODE_ISP,
  200,
  100,
  25,
  32,
  0,
  0x53,
  3,
  0xac,
  0x53,
  0x00,
  0x00,
];
/** Pre- and post-delay 1 ms. */
export const leaveProgmode = () => [Cmd.LEAVE_PROGMODE_ISP, 1, 1];

export const readSignatureByte = (index: number) => [
  Cmd.READ_SIGNATURE_ISP,
  4,
  0x30,
  0x00,
  index,
  0x00,
];

/** LOAD_ADDRESS of a byte address as a word address; bit 31 asks for extended addressing (parts over 128 KiB). */
export function loadAddress(byteAddress: number, extended: boolean): number[] {
  const word = ((byteAddress >>> 1) | (extended ? 0x80000000 : 0)) >>> 0;
  return [
    Cmd.LOAD_ADDRESS,
    (word >>> 24) & 0xff,
    (word >>> 16) & 0xff,
    (word >>> 8) & 0xff,
    word & 0xff,
  ];
}

/** PROGRAM_FLASH_ISP, paged mode with the write-page bit, m2560's ISP opcodes (load 0x40, write 0x4C, read 0x20). */
export function programFlash(data: Uint8Array): number[] {
  return [
    Cmd.PROGRAM_FLASH_ISP,
    (data.length >>> 8) & 0xff,
    data.length & 0xff,
    0xc1,
    0x0a,
    0x40,
    0x4c,
    0x20,
    0x00,
    0x00,
    ...data,
  ];
}

export const readFlash = (length: number) => [
  Cmd.READ_FLASH_ISP,
  (length >>> 8) & 0xff,
  length & 0xff,
  0x20,
];
