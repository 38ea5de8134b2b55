// The CMSIS-DAP command set in bytes against the SAM C21 model: DAP_Info,
// the SWD select sequence, DAP_Transfer with posted AP reads collected in
// order, WAIT retries against a stalled bus, FAULT and the sticky error
// cleared by ABORT, TransferBlock, and the model time each costs.
import { describe, expect, it } from "vitest";
import { DAP } from "../../../src/sim/swd/cmsis-dap.js";
import { ROW_ERASE_US } from "../../../src/sim/swd/samd-nvm.js";
import {
  ACK_FAULT,
  ACK_NONE,
  ACK_OK,
  ACK_WAIT,
  CTRL_STICKYERR,
} from "../../../src/sim/swd/sw-dp.js";
import { ap, DapHost, dp, JTAG_TO_SWD_BYTES, le32 } from "./dap-host.js";

describe("DAP_Info and the plain commands", () => {
  it("answers packet size, count, capabilities and strings as the spec lays them out; unknown commands 0xFF", () => {
    const h = new DapHost();
    expect([...h.cmd(DAP.INFO, 0xff)]).toEqual([0x00, 2, 64, 0]);
    expect([...h.cmd(DAP.INFO, 0xfe)]).toEqual([0x00, 1, 4]);
    expect([...h.cmd(DAP.INFO, 0xf0)]).toEqual([0x00, 1, 0x01]);
    expect([...h.cmd(DAP.INFO, 0x04)]).toEqual([0x00, 6, ...Buffer.from("2.1.1"), 0]);
    expect([...h.cmd(DAP.INFO, 0x06)]).toEqual([0x00, 0]);
    expect([...h.cmd(DAP.CONNECT, 0)]).toEqual([0x02, 1]); // default port: SWD
    expect([...h.cmd(DAP.CONNECT, 2)]).toEqual([0x02, 0]); // JTAG: not implemented
    expect([...h.cmd(DAP.SWJ_CLOCK, ...le32(2_000_000))]).toEqual([0x11, 0]);
    expect(h.dap.swjClockHz).toBe(2_000_000);
    expect([...h.cmd(0x7c)]).toEqual([0xff]);
  });
});

describe("SWD line states", () => {
  it("ignores transfers (ACK 0b111) until the JTAG-to-SWD sequence, then wants a DPIDR read after every line reset", () => {
    const h = new DapHost();
    expect(h.transfer([dp(true, 0)]).ack).toBe(ACK_NONE);
    h.swjSequence(JTAG_TO_SWD_BYTES, 0x88);
    expect(h.transfer([dp(true, 4)]).ack).toBe(ACK_NONE); // CTRL/STAT before DPIDR
    expect(h.transfer([dp(true, 0)])).toEqual({ count: 1, ack: ACK_OK, words: [0x0bc11477] });
    expect(h.transfer([dp(true, 4)]).ack).toBe(ACK_OK);
    h.swjSequence([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]); // line reset
    expect(h.transfer([dp(true, 4)]).ack).toBe(ACK_NONE);
    expect(h.transfer([dp(true, 0)]).ack).toBe(ACK_OK);
  });

  it("an unpowered target never answers", () => {
    const h = new DapHost({ powered: false });
    h.swjSequence(JTAG_TO_SWD_BYTES, 0x88);
    expect(h.transfer([dp(true, 0)]).ack).toBe(ACK_NONE);
  });

  it("power-up requests are acknowledged in CTRL/STAT", () => {
    const h = new DapHost();
    h.connect();
    const ctrl = h.transfer([dp(true, 4)]).words[0]!;
    expect((ctrl & 0xf0000000) >>> 0).toBe(0xf0000000);
  });
});

describe("DAP_Transfer", () => {
  it("pipelines posted AP reads: three DRW reads in one packet return the three words in order", () => {
    const h = new DapHost();
    h.connect();
    h.target.sram.bytes.set(Uint8Array.of(1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0));
    const r = h.transfer([
      ap(false, 4, 0x20000000),
      ap(true, 0xc),
      ap(true, 0xc),
      ap(true, 0xc),
      dp(true, 4),
    ]);
    expect(r.ack).toBe(ACK_OK);
    expect(r.count).toBe(5);
    expect(r.words.slice(0, 3)).toEqual([1, 2, 3]);
  });

  it("a bus error is a FAULT: the sticky error stays (every AP access FAULTs) until ABORT clears it", () => {
    const h = new DapHost();
    h.connect();
    const bad = h.read32(0x60000000);
    expect(bad.ack).toBe(ACK_FAULT);
    expect(h.transfer([dp(true, 4)]).words[0]! & CTRL_STICKYERR).toBe(CTRL_STICKYERR);
    expect(h.read32(0x20000000).ack).toBe(ACK_FAULT);
    expect([...h.cmd(DAP.WRITE_ABORT, 0, ...le32(0x04))]).toEqual([0x08, 0]);
    expect(h.read32(0x20000000).ack).toBe(ACK_OK);
  });

  it("a posted write's fault shows in the same response (the firmware reads RDBUFF after writes)", () => {
    const h = new DapHost();
    h.connect();
    expect(h.write32(0x60000000, 1)).toBe(ACK_FAULT);
  });

  it("WAIT while the NVM stalls the bus: retried up to TransferConfigure's count, then WAIT; enough retries outlast a row erase", () => {
    const h = new DapHost();
    h.connect();
    h.cmd(DAP.TRANSFER_CONFIGURE, 0, ...[2, 0], 0, 0); // 2 retries
    h.write32(0x4100401c, 0x100 >> 1); // ADDR
    const t0 = h.clock.nowUs;
    h.write32(0x41004000, 0xa502); // ER
    expect(h.read32(0x100).ack).toBe(ACK_WAIT);
    h.cmd(DAP.WRITE_ABORT, 0, ...le32(0x01)); // DAPABORT
    h.cmd(DAP.TRANSFER_CONFIGURE, 0, ...[0, 1], 0, 0); // 256 retries
    const r = h.read32(0x100);
    expect(r).toEqual({ ack: ACK_OK, value: 0xffffffff });
    expect(h.clock.nowUs - t0).toBeGreaterThanOrEqual(ROW_ERASE_US);
  });

  it("TransferBlock reads and writes words through TAR auto-increment", () => {
    const h = new DapHost();
    h.connect();
    h.transfer([ap(false, 4, 0x20000100)]);
    const w = h.cmd(DAP.TRANSFER_BLOCK, 0, 3, 0, 0x0d, ...le32(0xa), ...le32(0xb), ...le32(0xc));
    expect([...w]).toEqual([0x06, 3, 0, ACK_OK]);
    h.transfer([ap(false, 4, 0x20000100)]);
    const r = h.cmd(DAP.TRANSFER_BLOCK, 0, 3, 0, 0x0f);
    expect([...r]).toEqual([0x06, 3, 0, ACK_OK, ...le32(0xa), ...le32(0xb), ...le32(0xc)]);
  });

  it("a value-match read polls until (value & mask) matches, or answers a mismatch when the match retries run out", () => {
    const h = new DapHost();
    h.connect();
    h.write32(0x20000000, 0x12345678);
    h.transfer([ap(false, 4, 0x20000000)]);
    // DAP_Transfer: match mask 0xFF (write, bit 5), then a DRW read with match value 0x78 (bit 4)
    const ok = h.cmd(DAP.TRANSFER, 0, 2, 0x20, ...le32(0xff), 0x1f, ...le32(0x78));
    expect([...ok]).toEqual([0x05, 2, ACK_OK]);
    const miss = h.cmd(DAP.TRANSFER, 0, 2, 0x20, ...le32(0xff), 0x1f, ...le32(0x79));
    expect(miss[2]! & 0x10).toBe(0x10);
  });

  it("DAP_Delay and SWJ_Sequence cost their time; SWD_Sequence clocks output bits to the target", () => {
    const h = new DapHost();
    const t0 = h.clock.nowUs;
    expect([...h.cmd(DAP.DELAY, 0xe8, 0x03)]).toEqual([0x09, 0]); // 1000 µs
    expect(h.clock.nowUs - t0).toBe(2000); // plus the command's round trip
    // the select sequence as SWD_Sequence output blocks (56 ones, 0xE79E, 56 ones) selects SWD too
    const ones = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    expect([...h.cmd(DAP.SWD_SEQUENCE, 3, 56, ...ones, 16, 0x9e, 0xe7, 56, ...ones)]).toEqual([
      0x1d, 0,
    ]);
    expect(h.transfer([dp(true, 4)]).ack).toBe(ACK_NONE); // after the line reset: DPIDR first
    expect(h.transfer([dp(true, 0)]).ack).toBe(ACK_OK);
  });

  it("each transfer costs its bits at the SWJ clock", () => {
    const h = new DapHost();
    h.connect();
    h.cmd(DAP.SWJ_CLOCK, ...le32(1_000_000));
    const t0 = h.clock.nowUs;
    h.transfer([dp(true, 0)]);
    // 46 bits at 1 MHz plus the command's USB round trip (1000 µs)
    expect(h.clock.nowUs - t0).toBeCloseTo(1046, 5);
  });
});
