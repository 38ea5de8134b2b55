// USB DFU 1.1 and ST DfuSe, pure (../shared/docs/protocols/dfu.md): class
// requests, states and statuses, the GETSTATUS reply, the functional
// descriptor, DfuSe commands, and the DfuSe memory layout string of an alt
// setting. (The optional .dfu file suffix is an image matter, checked
// before any device is opened: src/flasher/image/dfu-suffix.ts.)

export const DfuRequest = {
  DETACH: 0,
  DNLOAD: 1,
  UPLOAD: 2,
  GETSTATUS: 3,
  CLRSTATUS: 4,
  GETSTATE: 5,
  ABORT: 6,
} as const;

/** bmRequestType of class requests to the interface. */
export const DFU_OUT = 0x21;
export const DFU_IN = 0xa1;

export const DfuState = {
  appIDLE: 0,
  appDETACH: 1,
  dfuIDLE: 2,
  dfuDNLOAD_SYNC: 3,
  dfuDNBUSY: 4,
  dfuDNLOAD_IDLE: 5,
  dfuMANIFEST_SYNC: 6,
  dfuMANIFEST: 7,
  dfuMANIFEST_WAIT_RESET: 8,
  dfuUPLOAD_IDLE: 9,
  dfuERROR: 10,
} as const;
export type DfuStateValue = (typeof DfuState)[keyof typeof DfuState];

const STATE_NAMES = [
  "appIDLE",
  "appDETACH",
  "dfuIDLE",
  "dfuDNLOAD-SYNC",
  "dfuDNBUSY",
  "dfuDNLOAD-IDLE",
  "dfuMANIFEST-SYNC",
  "dfuMANIFEST",
  "dfuMANIFEST-WAIT-RESET",
  "dfuUPLOAD-IDLE",
  "dfuERROR",
];
export const stateName = (s: number): string => STATE_NAMES[s] ?? `state ${s}`;

export const DfuStatus = {
  OK: 0x00,
  errTARGET: 0x01,
  errFILE: 0x02,
  errWRITE: 0x03,
  errERASE: 0x04,
  errCHECK_ERASED: 0x05,
  errPROG: 0x06,
  errVERIFY: 0x07,
  errADDRESS: 0x08,
  errNOTDONE: 0x09,
  errFIRMWARE: 0x0a,
  errVENDOR: 0x0b,
  errUSBR: 0x0c,
  errPOR: 0x0d,
  errUNKNOWN: 0x0e,
  errSTALLEDPKT: 0x0f,
} as const;

const STATUS_TEXT = [
  "OK",
  "errTARGET (the file is not for this device)",
  "errFILE (the file fails a vendor check)",
  "errWRITE (the device cannot write the memory)",
  "errERASE (memory erase failed)",
  "errCHECK_ERASED (erase check failed)",
  "errPROG (program memory function failed)",
  "errVERIFY (programmed memory failed verification)",
  "errADDRESS (address out of range)",
  "errNOTDONE (end of data received too early)",
  "errFIRMWARE (the firmware is corrupt)",
  "errVENDOR (vendor-specific error, e.g. read-out protection)",
  "errUSBR (unexpected USB reset)",
  "errPOR (unexpected power-on reset)",
  "errUNKNOWN",
  "errSTALLEDPKT (the device stalled an unexpected request)",
];
export const statusText = (s: number): string =>
  STATUS_TEXT[s] ?? `status 0x${s.toString(16).padStart(2, "0")}`;

export interface DfuStatusReply {
  status: number;
  /** How long the host waits before the next request, ms. */
  pollTimeoutMs: number;
  state: number;
  iString: number;
}

export function parseStatus(b: Uint8Array): DfuStatusReply {
  if (b.length < 6) throw new RangeError(`DFU GETSTATUS reply of ${b.length} bytes (6 expected)`);
  return {
    status: b[0]!,
    pollTimeoutMs: b[1]! | (b[2]! << 8) | (b[3]! << 16),
    state: b[4]!,
    iString: b[5]!,
  };
}

export function encodeStatus(r: DfuStatusReply): Uint8Array {
  const t = r.pollTimeoutMs;
  return Uint8Array.of(r.status, t & 0xff, (t >> 8) & 0xff, (t >> 16) & 0xff, r.state, r.iString);
}

/** The DFU functional descriptor (type 0x21). */
export interface DfuFunctional {
  canDownload: boolean;
  canUpload: boolean;
  manifestationTolerant: boolean;
  willDetach: boolean;
  detachTimeoutMs: number;
  transferSize: number;
  /** 0x0110 DFU 1.1, 0x011a DfuSe. */
  dfuVersion: number;
}

export const DFU_FUNCTIONAL_TYPE = 0x21;
export const DFUSE_VERSION = 0x011a;

/** Finds and parses the functional descriptor in an interface's `extra` bytes. */
export function findFunctional(extra: Uint8Array): DfuFunctional | undefined {
  for (let o = 0; o + 2 <= extra.length && extra[o]! >= 2; o += extra[o]!) {
    if (extra[o + 1] !== DFU_FUNCTIONAL_TYPE || extra[o]! < 7) continue;
    const d = extra.subarray(o, o + extra[o]!);
    const attrs = d[2]!;
    return {
      canDownload: (attrs & 1) !== 0,
      canUpload: (attrs & 2) !== 0,
      manifestationTolerant: (attrs & 4) !== 0,
      willDetach: (attrs & 8) !== 0,
      detachTimeoutMs: d[3]! | (d[4]! << 8),
      transferSize: d[5]! | (d[6]! << 8),
      dfuVersion: d.length >= 9 ? d[7]! | (d[8]! << 8) : 0x0100,
    };
  }
  return undefined;
}

export function encodeFunctional(f: DfuFunctional): Uint8Array {
  const attrs =
    (f.canDownload ? 1 : 0) |
    (f.canUpload ? 2 : 0) |
    (f.manifestationTolerant ? 4 : 0) |
    (f.willDetach ? 8 : 0);
  return Uint8Array.of(
    9,
    DFU_FUNCTIONAL_TYPE,
    attrs,
    f.detachTimeoutMs & 0xff,
    f.detachTimeoutMs >> 8,
    f.transferSize & 0xff,
    f.transferSize >> 8,
    f.dfuVersion & 0xff,
    f.dfuVersion >> 8,
  );
}

// ---- DfuSe commands (DNLOAD block 0)

export const DfuseCommand = { GET: 0x00, SET_ADDRESS: 0x21, ERASE: 0x41, READ_UNPROTECT: 0x92 };

const withAddress = (cmd: number, a: number) =>
  Uint8Array.of(cmd, a & 0xff, (a >>> 8) & 0xff, (a >>> 16) & 0xff, (a >>> 24) & 0xff);
export const dfuseSetAddress = (a: number): Uint8Array => withAddress(DfuseCommand.SET_ADDRESS, a);
export const dfuseErase = (a: number): Uint8Array => withAddress(DfuseCommand.ERASE, a);
export const dfuseMassErase = (): Uint8Array => Uint8Array.of(DfuseCommand.ERASE);

/** A DfuSe command's address (bytes 1..4 LE). */
export const commandAddress = (b: Uint8Array): number =>
  (b[1]! | (b[2]! << 8) | (b[3]! << 16) | (b[4]! << 24)) >>> 0;

// ---- DfuSe memory layout ("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg")

export interface MemorySegment {
  start: number;
  /** Exclusive end. */
  end: number;
  sectorSize: number;
  sectors: number;
  readable: boolean;
  erasable: boolean;
  writable: boolean;
}

export interface MemoryLayout {
  name: string;
  segments: MemorySegment[];
}

/** A DfuSe layout string that cannot be parsed. */
export class LayoutParseError extends Error {
  constructor(
    readonly text: string,
    readonly reason: string,
  ) {
    super(`DfuSe memory layout "${text}": ${reason}`);
  }
}

const MULTIPLIER: Record<string, number> = { B: 1, K: 1024, M: 1024 * 1024, " ": 1 };

/** Parses an alt setting's name; undefined when it is no layout (does not start with "@"). */
export function parseMemoryLayout(text: string): MemoryLayout | undefined {
  if (!text.startsWith("@")) return undefined;
  const parts = text.slice(1).split("/");
  const name = parts[0]!.trim();
  if (parts.length < 3 || parts.length % 2 === 0)
    throw new LayoutParseError(text, "expected /0xADDRESS/NN*SSSu,… pairs after the name");
  const segments: MemorySegment[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    const addrText = parts[i]!.trim();
    if (!/^0x[0-9a-f]+$/i.test(addrText))
      throw new LayoutParseError(text, `bad address ${addrText}`);
    let at = parseInt(addrText, 16);
    for (const item of parts[i + 1]!.split(",")) {
      const m = /^\s*(\d+)\*\s*(\d+)\s*([BKM ]?)([a-g])\s*$/.exec(item);
      if (!m) throw new LayoutParseError(text, `bad sector list item "${item}"`);
      const sectors = parseInt(m[1]!, 10);
      const sectorSize = parseInt(m[2]!, 10) * MULTIPLIER[m[3] || "B"]!;
      // dfu-util counts "Device Feature" as type e whatever it says
      const type = name === "Device Feature" ? 5 : m[4]!.charCodeAt(0) & 7;
      segments.push({
        start: at,
        end: at + sectors * sectorSize,
        sectorSize,
        sectors,
        readable: (type & 1) !== 0,
        erasable: (type & 2) !== 0,
        writable: (type & 4) !== 0,
      });
      at += sectors * sectorSize;
    }
  }
  return { name, segments };
}

export const segmentAt = (l: MemoryLayout, address: number): MemorySegment | undefined =>
  l.segments.find((s) => address >= s.start && address < s.end);

/**
 * The sector bases [start, end) touches, in order (each sector once): what
 * a DfuSe download erases. Throws RangeError naming the first byte outside
 * an erasable, writable segment.
 */
export function sectorsToErase(l: MemoryLayout, start: number, end: number): number[] {
  const out: number[] = [];
  let a = start;
  while (a < end) {
    const s = segmentAt(l, a);
    if (!s || !s.erasable || !s.writable)
      throw new RangeError(
        `0x${a.toString(16)} is ${s ? "not erasable and writable" : "outside the memory layout"}`,
      );
    const base = s.start + Math.floor((a - s.start) / s.sectorSize) * s.sectorSize;
    out.push(base);
    a = base + s.sectorSize;
  }
  return out;
}
