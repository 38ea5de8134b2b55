// The LPC176x flash rules of the simulated Katapult (src/lpc176x/flash.c):
// blocks gather in a 256-byte chunk that is written through the ROM's IAP
// when its last block arrives, after erasing the sector it starts. Every IAP
// call runs with interrupts disabled, so the erase and the programming both
// stall the whole CPU (no receive interrupt meanwhile).
import { describe, expect, it } from "vitest";
import { lpc176xDriver, lpc176xLayout, SimFlash, STM32G0_TIMING } from "../../src/sim/flash.js";
import { randomBytes } from "../../src/util/random.js";

const SIZE = 512 * 1024;
const APP = 0x4000;

describe("simulated LPC176x Katapult flash driver", () => {
  it("writes a chunk when its fourth block arrives; erase and IAP programming are both a CPU stall", () => {
    const flash = new SimFlash(lpc176xLayout(SIZE), STM32G0_TIMING, new Uint8Array(SIZE)); // old firmware: zeros
    const driver = lpc176xDriver(flash, 64);
    const data = [0, 1, 2, 3].map((i) => randomBytes(64, i));
    const outs = data.map((d, i) => driver.writeBlock(APP + 64 * i, d));
    expect(outs.slice(0, 3).map((o) => o.stallMs + o.busyMs)).toEqual([0, 0, 0]);
    // The chunk starts the 4 KiB sector at 0x4000: erase (20 ms here) + 4 blocks programmed, all stalled.
    expect(outs[3]).toEqual({ code: 0, stallMs: 20 + 4 * STM32G0_TIMING.writeBlockMs, busyMs: 0 });
    expect(flash.read(APP, 256)).toEqual(Uint8Array.from(data.flatMap((d) => [...d])));
    // The next chunk in the same sector: programming only, still a stall.
    const next = [4, 5, 6, 7].map((i) => driver.writeBlock(APP + 64 * i, randomBytes(64, i)));
    expect(next[3]).toEqual({ code: 0, stallMs: 4 * STM32G0_TIMING.writeBlockMs, busyMs: 0 });
  });
});
