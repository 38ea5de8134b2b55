// STK500v1 ("avrdude -carduino") frames, pure (stk500v1.md §3–§6): host
// commands end in 0x20; replies are 0x14, the command's data, 0x10. Flash is
// addressed in 16-bit words; page lengths are in bytes, big endian.

export const Cmd = {
  GET_SYNC: 0x30,
  GET_PARAMETER: 0x41,
  SET_DEVICE: 0x42,
  SET_DEVICE_EXT: 0x45,
  ENTER_PROGMODE: 0x50,
  LEAVE_PROGMODE: 0x51,
  LOAD_ADDRESS: 0x55,
  UNIVERSAL: 0x56,
  PROG_PAGE: 0x64,
  READ_PAGE: 0x74,
  READ_SIGN: 0x75,
} as const;

export const Resp = {
  OK: 0x10,
  FAILED: 0x11,
  UNKNOWN: 0x12,
  NODEVICE: 0x13,
  INSYNC: 0x14,
  NOSYNC: 0x15,
} as const;

/** Sync_CRC_EOP: ends every host frame. */
export const EOP = 0x20;
/** Memory type byte of PROG_PAGE / READ_PAGE. */
export const MEM_FLASH = 0x46; // 'F'

export const Param = { SW_MAJOR: 0x81, SW_MINOR: 0x82 } as const;

const frame = (...bytes: number[]): Uint8Array => Uint8Array.from([...bytes, EOP]);

export const getSync = () => frame(Cmd.GET_SYNC);
export const getParameter = (p: number) => frame(Cmd.GET_PARAMETER, p);
export const enterProgmode = () => frame(Cmd.ENTER_PROGMODE);
export const leaveProgmode = () => frame(Cmd.LEAVE_PROGMODE);
export const readSignature = () => frame(Cmd.READ_SIGN);

/** UNIVERSAL `56 a b c d`: an ISP command pass-through (used for LOAD EXTENDED ADDRESS 0x4d). */
export const universal = (a: number, b: number, c: number, d: number) =>
  frame(Cmd.UNIVERSAL, a, b, c, d);

/** LOAD_ADDRESS of a byte address (sent as a word address, little endian). */
export function loadAddress(byteAddress: number): Uint8Array {
  if (byteAddress % 2 !== 0)
    throw new RangeError(`AVR flash address 0x${byteAddress.toString(16)} is odd`);
  const word = byteAddress >>> 1;
  return frame(Cmd.LOAD_ADDRESS, word & 0xff, (word >>> 8) & 0xff);
}

/** Word address bits 16..23 (LOAD EXTENDED ADDRESS), for parts above 128 KiB. */
export const extendedByte = (byteAddress: number) => (byteAddress >>> 17) & 0xff;

export function progPage(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + data.length + 1);
  out[0] = Cmd.PROG_PAGE;
  out[1] = (data.length >>> 8) & 0xff;
  out[2] = data.length & 0xff;
  out[3] = MEM_FLASH;
  out.set(data, 4);
  out[out.length - 1] = EOP;
  return out;
}

export const readPage = (length: number) =>
  frame(Cmd.READ_PAGE, (length >>> 8) & 0xff, length & 0xff, MEM_FLASH);

/**
 * SET_DEVICE's 20 parameter bytes (AVR061). Both Arduino bootloaders ignore
 * them, but a strict STK500 would not: send real values.
 */
export function setDevice(o: {
  deviceCode: number;
  pageSize: number;
  eepromSize: number;
  flashSize: number;
}): Uint8Array {
  return frame(
    Cmd.SET_DEVICE,
    o.deviceCode,
    0x00, // revision
    0x00, // prog type: both parallel and serial
    0x01, // parallel mode: full
    0x01, // polling
    0x01, // self-timed
    0x01, // lock bytes
    0x03, // fuse bytes
    0xff,
    0xff, // flash poll values
    0xff,
    0xff, // EEPROM poll values
    (o.pageSize >>> 8) & 0xff,
    o.pageSize & 0xff,
    (o.eepromSize >>> 8) & 0xff,
    o.eepromSize & 0xff,
    (o.flashSize >>> 24) & 0xff,
    (o.flashSize >>> 16) & 0xff,
    (o.flashSize >>> 8) & 0xff,
    o.flashSize & 0xff,
  );
}

/** What a reply's first byte says when it is not INSYNC. */
export function describeReplyByte(b: number | undefined): string {
  if (b === undefined) return "no reply";
  switch (b) {
    case Resp.NOSYNC:
      return "NOSYNC (0x15: the command was not understood)";
    case Resp.FAILED:
      return "FAILED (0x11)";
    case Resp.UNKNOWN:
      return "UNKNOWN (0x12)";
    case Cmd.GET_SYNC:
      return "0x30, our own sync byte echoed (loopback, or the board is not in its bootloader)";
    default:
      return `0x${b.toString(16).padStart(2, "0")} (not the bootloader's INSYNC 0x14: wrong baud rate?)`;
  }
}
