// A minimal CMSIS-DAP host for the unit tests: builds command packets the
// way the CMSIS-DAP spec lays them out and reads the responses, so the tests
// speak to the probe model in bytes, as openocd does.
import { CmsisDap, DAP } from "../../../src/sim/swd/cmsis-dap.js";
import { SwdClock } from "../../../src/sim/swd/clock.js";
import { SamdTarget, type SamdTargetOptions } from "../../../src/sim/swd/samd-target.js";

export interface Xfer {
  ap: boolean;
  read: boolean;
  addr: number;
  data?: number;
}

export const dp = (read: boolean, addr: number, data?: number): Xfer => ({
  ap: false,
  read,
  addr,
  data,
});
export const ap = (read: boolean, addr: number, data?: number): Xfer => ({
  ap: true,
  read,
  addr,
  data,
});

/** openocd's JTAG-to-SWD: 56 ones, 0xE79E LSB first, 56 ones, 16 idle. */
export const JTAG_TO_SWD_BYTES = [
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x9e, 0xe7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0x00, 0x00,
];

export class DapHost {
  readonly clock = new SwdClock();
  readonly target: SamdTarget;
  readonly dap: CmsisDap;

  constructor(o: Partial<SamdTargetOptions> = {}) {
    this.target = new SamdTarget({ part: "samc21g18a", ...o, clock: this.clock });
    this.dap = new CmsisDap(this.target, this.clock, {
      packetSize: 64,
      packetCount: 4,
      commandUs: 1000,
    });
  }

  cmd(...bytes: number[]): Uint8Array {
    return this.dap.execute(Uint8Array.from(bytes));
  }

  swjSequence(bytes: number[], bits = bytes.length * 8): Uint8Array {
    return this.cmd(DAP.SWJ_SEQUENCE, bits & 0xff, ...bytes);
  }

  transfer(list: Xfer[]): { count: number; ack: number; words: number[] } {
    const b: number[] = [DAP.TRANSFER, 0, list.length];
    for (const x of list) {
      b.push((x.ap ? 1 : 0) | (x.read ? 2 : 0) | (x.addr & 0x0c));
      if (!x.read) b.push(...le32(x.data ?? 0));
    }
    const r = this.dap.execute(Uint8Array.from(b));
    const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
    const words: number[] = [];
    for (let o = 3; o + 4 <= r.length; o += 4) words.push(v.getUint32(o, true));
    return { count: r[1]!, ack: r[2]!, words };
  }

  /** JTAG-to-SWD, DPIDR, clear sticky errors, power up, SELECT AP 0 bank 0. */
  connect(): number {
    this.cmd(DAP.CONNECT, 1);
    this.swjSequence(JTAG_TO_SWD_BYTES, 0x88);
    const r = this.transfer([
      dp(true, 0),
      dp(false, 0, 0x1e),
      dp(false, 8, 0),
      dp(false, 4, 0x50000000),
      dp(true, 4),
    ]);
    if (r.ack !== 1) throw new Error(`connect: ack ${r.ack}`);
    return r.words[0]!;
  }

  /** CSW size (0 byte, 1 halfword, 2 word) with single increment. */
  csw(size: 0 | 1 | 2): void {
    this.transfer([ap(false, 0, 0x23000010 | size)]);
  }

  write32(address: number, value: number): number {
    return this.transfer([ap(false, 4, address), ap(false, 0xc, value)]).ack;
  }

  read32(address: number): { ack: number; value: number } {
    const r = this.transfer([ap(false, 4, address), ap(true, 0xc)]);
    return { ack: r.ack, value: r.words[0] ?? 0 };
  }
}

export function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
