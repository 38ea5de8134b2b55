// A CMSIS-DAP v2 adapter's firmware (ARM's CMSIS-DAP command set) in front
// of an SWD target: one command packet in, one response out. DAP_Info,
// HostStatus, Connect/Disconnect, TransferConfigure, Transfer and
// TransferBlock (AP reads are pipelined as the firmware does: the posted
// read is collected by the next AP read or RDBUFF; WAIT is retried up to
// the configured count; value match), WriteABORT, Delay, ResetTarget,
// SWJ_Pins (nRESET), SWJ_Clock, SWJ_Sequence, SWD_Configure, SWD_Sequence.
// An unknown command answers 0xFF. The model's clock advances by each
// transfer's bits at the SWJ clock and by `commandUs` per command. Pure.

import type { SwdClock } from "./clock.js";
import { ACK_OK, ACK_WAIT, type SwdReply, type SwdRequest, type SwdWire } from "./sw-dp.js";

export const DAP = {
  INFO: 0x00,
  HOST_STATUS: 0x01,
  CONNECT: 0x02,
  DISCONNECT: 0x03,
  TRANSFER_CONFIGURE: 0x04,
  TRANSFER: 0x05,
  TRANSFER_BLOCK: 0x06,
  TRANSFER_ABORT: 0x07,
  WRITE_ABORT: 0x08,
  DELAY: 0x09,
  RESET_TARGET: 0x0a,
  SWJ_PINS: 0x10,
  SWJ_CLOCK: 0x11,
  SWJ_SEQUENCE: 0x12,
  SWD_CONFIGURE: 0x13,
  SWD_SEQUENCE: 0x1d,
} as const;

export const DAP_OK = 0x00;
export const DAP_ERROR = 0xff;

/** DAP_Info ids. */
export const INFO = {
  VENDOR: 0x01,
  PRODUCT: 0x02,
  SERIAL: 0x03,
  FW_VERSION: 0x04,
  CAPABILITIES: 0xf0,
  PACKET_COUNT: 0xfe,
  PACKET_SIZE: 0xff,
} as const;

/** Transfer request bits. */
export const TR_APNDP = 1 << 0;
export const TR_RNW = 1 << 1;
export const TR_MATCH_VALUE = 1 << 4;
export const TR_MATCH_MASK = 1 << 5;
/** Transfer response bits above the ACK. */
export const TR_PROTOCOL_ERROR = 1 << 3;
export const TR_MISMATCH = 1 << 4;

/** SWJ pins. */
export const PIN_SWCLK = 1 << 0;
export const PIN_SWDIO = 1 << 1;
export const PIN_NRESET = 1 << 7;

/** An SWD transfer on the wire: request 8, turnaround, ACK 3, turnaround, 32 data + parity. */
const TRANSFER_BITS = 8 + 1 + 3 + 1 + 33;
/** Default SWJ clock before DAP_SWJ_Clock, Hz. */
export const DEFAULT_SWJ_CLOCK_HZ = 1_000_000;

export interface CmsisDapOptions {
  vendor?: string;
  product?: string;
  serial?: string;
  firmware?: string;
  packetSize: number;
  packetCount: number;
  /** Model time each command takes on USB (a bulk OUT and IN round trip), µs. */
  commandUs: number;
}

const RDBUFF: SwdRequest = { ap: false, read: true, addr: 0xc };

export class CmsisDap {
  swjClockHz = DEFAULT_SWJ_CLOCK_HZ;
  private idleCycles = 0;
  private waitRetry = 100;
  private matchRetry = 0;
  private matchMask = 0xffffffff;
  private turnaround = 1;
  port: 0 | 1 = 0;
  /** Commands by code, for tests. */
  readonly counts = new Map<number, number>();

  constructor(
    private readonly wire: SwdWire,
    private readonly clock: SwdClock,
    private readonly o: CmsisDapOptions,
  ) {}

  /** One command packet → its response. */
  execute(cmd: Uint8Array): Uint8Array {
    this.clock.advance(this.o.commandUs);
    const id = cmd[0] ?? 0xff;
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    const v = new DataView(cmd.buffer, cmd.byteOffset, cmd.byteLength);
    const u16 = (o: number) => (o + 2 <= cmd.length ? v.getUint16(o, true) : 0);
    const u32 = (o: number) => (o + 4 <= cmd.length ? v.getUint32(o, true) : 0);
    switch (id) {
      case DAP.INFO:
        return this.info(cmd[1] ?? 0);
      case DAP.HOST_STATUS:
        return Uint8Array.of(id, DAP_OK);
      case DAP.CONNECT: {
        const mode = cmd[1] ?? 0;
        this.port = mode === 0 || mode === 1 ? 1 : 0; // SWD only
        return Uint8Array.of(id, this.port);
      }
      case DAP.DISCONNECT:
        this.port = 0;
        return Uint8Array.of(id, DAP_OK);
      case DAP.TRANSFER_CONFIGURE:
        this.idleCycles = cmd[1] ?? 0;
        this.waitRetry = u16(2);
        this.matchRetry = u16(4);
        return Uint8Array.of(id, DAP_OK);
      case DAP.TRANSFER:
        return this.transfer(cmd);
      case DAP.TRANSFER_BLOCK:
        return this.transferBlock(cmd);
      case DAP.WRITE_ABORT: {
        const r = this.swd({ ap: false, read: false, addr: 0, data: u32(2) });
        return Uint8Array.of(id, r.ack === ACK_OK ? DAP_OK : DAP_ERROR);
      }
      case DAP.DELAY:
        this.clock.advance(u16(1));
        return Uint8Array.of(id, DAP_OK);
      case DAP.RESET_TARGET:
        return Uint8Array.of(id, DAP_OK, 0); // no device-specific reset sequence
      case DAP.SWJ_PINS: {
        const out = cmd[1] ?? 0;
        const select = cmd[2] ?? 0;
        if (select & PIN_NRESET) this.wire.resetPin((out & PIN_NRESET) === 0);
        this.clock.advance(Math.min(u32(3), 3_000_000));
        return Uint8Array.of(id, (1 << 5) | PIN_NRESET | PIN_SWDIO); // nTRST, nRESET, SWDIO high
      }
      case DAP.SWJ_CLOCK: {
        const hz = u32(1);
        if (hz === 0) return Uint8Array.of(id, DAP_ERROR);
        this.swjClockHz = hz;
        return Uint8Array.of(id, DAP_OK);
      }
      case DAP.SWJ_SEQUENCE: {
        const n = cmd[1] === 0 ? 256 : (cmd[1] ?? 0);
        this.wire.sequence(cmd.subarray(2, 2 + Math.ceil(n / 8)), n);
        this.clock.advance((n * 1e6) / this.swjClockHz);
        return Uint8Array.of(id, DAP_OK);
      }
      case DAP.SWD_CONFIGURE:
        this.turnaround = ((cmd[1] ?? 0) & 3) + 1;
        return Uint8Array.of(id, DAP_OK);
      case DAP.SWD_SEQUENCE:
        return this.swdSequence(cmd);
      case DAP.TRANSFER_ABORT:
        return new Uint8Array(0); // no response
      default:
        return Uint8Array.of(DAP_ERROR);
    }
  }

  private info(which: number): Uint8Array {
    const str = (s: string | undefined) => {
      if (!s) return Uint8Array.of(DAP.INFO, 0);
      const b = new TextEncoder().encode(s);
      const out = new Uint8Array(3 + b.length);
      out.set([DAP.INFO, b.length + 1]);
      out.set(b, 2);
      return out;
    };
    switch (which) {
      case INFO.VENDOR:
        return str(this.o.vendor);
      case INFO.PRODUCT:
        return str(this.o.product);
      case INFO.SERIAL:
        return str(this.o.serial);
      case INFO.FW_VERSION:
        return str(this.o.firmware ?? "2.1.1");
      case INFO.CAPABILITIES:
        return Uint8Array.of(DAP.INFO, 1, 0x01); // SWD
      case INFO.PACKET_COUNT:
        return Uint8Array.of(DAP.INFO, 1, this.o.packetCount);
      case INFO.PACKET_SIZE:
        return Uint8Array.of(DAP.INFO, 2, this.o.packetSize & 0xff, this.o.packetSize >> 8);
      default:
        return Uint8Array.of(DAP.INFO, 0);
    }
  }

  /** One SWD transfer with the firmware's WAIT retries; each try costs its bits. */
  private swd(r: SwdRequest): SwdReply {
    const bitUs = 1e6 / this.swjClockHz;
    for (let tries = 0; ; tries++) {
      this.clock.advance((TRANSFER_BITS + 2 * (this.turnaround - 1) + this.idleCycles) * bitUs);
      const reply = this.wire.transfer(r);
      if (reply.ack !== ACK_WAIT || tries >= this.waitRetry) return reply;
    }
  }

  private transfer(cmd: Uint8Array): Uint8Array {
    const count = cmd[2] ?? 0;
    const v = new DataView(cmd.buffer, cmd.byteOffset, cmd.byteLength);
    const out: number[] = [];
    let p = 3;
    let done = 0;
    let ack = ACK_OK;
    let posted = false;
    let wrote = false;
    const word = () => {
      const w = p + 4 <= cmd.length ? v.getUint32(p, true) : 0;
      p += 4;
      return w;
    };
    const collect = (): boolean => {
      const r = this.swd(RDBUFF);
      ack = r.ack;
      if (ack !== ACK_OK) return false;
      out.push(r.data);
      posted = false;
      return true;
    };
    for (; done < count; done++) {
      const rq = cmd[p++] ?? 0;
      const req: SwdRequest = {
        ap: (rq & TR_APNDP) !== 0,
        read: (rq & TR_RNW) !== 0,
        addr: rq & 0x0c,
      };
      if (req.read) {
        if (rq & TR_MATCH_VALUE) {
          const match = word();
          if (posted && !collect()) break;
          if (!this.matchRead(req, match, (a) => (ack = a))) break;
          wrote = false;
          continue;
        }
        if (posted) {
          if (req.ap) {
            const r = this.swd(req); // returns the posted value, posts this one
            ack = r.ack;
            if (ack !== ACK_OK) break;
            out.push(r.data);
            continue;
          }
          if (!collect()) break;
        }
        const r = this.swd(req);
        ack = r.ack;
        if (ack !== ACK_OK) break;
        if (req.ap) posted = true;
        else out.push(r.data);
        wrote = false;
      } else {
        if (posted && !collect()) break;
        const data = word();
        if (rq & TR_MATCH_MASK) {
          this.matchMask = data;
          continue;
        }
        const r = this.swd({ ...req, data });
        ack = r.ack;
        if (ack !== ACK_OK) break;
        wrote = true;
      }
    }
    if (ack === ACK_OK && posted) collect();
    else if (ack === ACK_OK && wrote) ack = this.swd(RDBUFF).ack; // a posted write's fault shows here
    return this.response(DAP.TRANSFER, [done], ack, out);
  }

  private matchRead(req: SwdRequest, match: number, setAck: (a: number) => void): boolean {
    if (req.ap) {
      const r = this.swd(req);
      setAck(r.ack);
      if (r.ack !== ACK_OK) return false;
    }
    for (let n = 0; ; n++) {
      const r = this.swd(req); // an AP read returns the previous one's value
      setAck(r.ack);
      if (r.ack !== ACK_OK) return false;
      if ((r.data & this.matchMask) >>> 0 === (match & this.matchMask) >>> 0) return true;
      if (n >= this.matchRetry) {
        setAck(r.ack | TR_MISMATCH);
        return false;
      }
    }
  }

  private transferBlock(cmd: Uint8Array): Uint8Array {
    const v = new DataView(cmd.buffer, cmd.byteOffset, cmd.byteLength);
    const count = cmd.length >= 4 ? v.getUint16(2, true) : 0;
    const rq = cmd[4] ?? 0;
    const req: SwdRequest = {
      ap: (rq & TR_APNDP) !== 0,
      read: (rq & TR_RNW) !== 0,
      addr: rq & 0x0c,
    };
    const out: number[] = [];
    let done = 0;
    let ack = ACK_OK;
    if (req.read && req.ap && count > 0) {
      ack = this.swd(req).ack; // post the first
      for (; ack === ACK_OK && done < count; done++) {
        const r = this.swd(done === count - 1 ? RDBUFF : req);
        ack = r.ack;
        if (ack !== ACK_OK) break;
        out.push(r.data);
      }
    } else if (req.read) {
      for (; done < count; done++) {
        const r = this.swd(req);
        ack = r.ack;
        if (ack !== ACK_OK) break;
        out.push(r.data);
      }
    } else {
      for (; done < count; done++) {
        const o = 5 + 4 * done;
        const r = this.swd({ ...req, data: o + 4 <= cmd.length ? v.getUint32(o, true) : 0 });
        ack = r.ack;
        if (ack !== ACK_OK) break;
      }
      if (ack === ACK_OK && count > 0) ack = this.swd(RDBUFF).ack;
    }
    return this.response(DAP.TRANSFER_BLOCK, [done & 0xff, done >> 8], ack, out);
  }

  private response(id: number, count: number[], ack: number, words: number[]): Uint8Array {
    const b = new Uint8Array(1 + count.length + 1 + 4 * words.length);
    b[0] = id;
    b.set(count, 1);
    b[1 + count.length] = ack;
    const v = new DataView(b.buffer);
    words.forEach((w, i) => v.setUint32(2 + count.length + 4 * i, w >>> 0, true));
    return b;
  }

  private swdSequence(cmd: Uint8Array): Uint8Array {
    const n = cmd[1] ?? 0;
    const out: number[] = [DAP.SWD_SEQUENCE, DAP_OK];
    let p = 2;
    for (let i = 0; i < n; i++) {
      const info = cmd[p++] ?? 0;
      const bits = info & 0x3f || 64;
      const bytes = Math.ceil(bits / 8);
      if (info & 0x80)
        out.push(...new Array<number>(bytes).fill(0xff)); // nobody drives: pulled up
      else {
        this.wire.sequence(cmd.subarray(p, p + bytes), bits);
        p += bytes;
      }
      this.clock.advance((bits * 1e6) / this.swjClockHz);
    }
    return Uint8Array.from(out);
  }
}
