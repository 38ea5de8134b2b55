// The RP2040/RP2350 flash rules of the simulated Katapult (src/rp2040/flash.c):
// 256-byte RAM page, programmed when a block for another page arrives or at
// EOF, its 4 KiB sector erased first when the page starts one; a block sent
// again after its page was flushed is programmed over it without an erase.
import { describe, expect, it } from "vitest";
import { RP2040_TIMING, rp2040Driver, SimFlash, uniformLayout } from "../../src/sim/flash.js";
import { randomBytes } from "../../src/util/random.js";

const BASE = 0x10000000;
const APP = BASE + 0x4000;

function chip(initial?: Uint8Array) {
  const flash = new SimFlash(uniformLayout(BASE, 64 * 1024, 4096), RP2040_TIMING, initial);
  return { flash, driver: rp2040Driver(flash, 64) };
}

describe("simulated RP2040 Katapult flash driver", () => {
  it("programs a page only when the next page starts, erasing the sector first; EOF flushes the last page", () => {
    const { flash, driver } = chip(new Uint8Array(64 * 1024)); // old firmware: zeros
    const data = [0, 1, 2, 3, 4].map((i) => randomBytes(64, i));
    const outs = data.map((d, i) => driver.writeBlock(APP + 64 * i, d));
    // Blocks 0–3 fill the page at APP in RAM; block 4 (next page) flushes it: erase + program.
    expect(outs.slice(0, 4).map((o) => o.stallMs + o.busyMs)).toEqual([0, 0, 0, 0]);
    // Code runs from RAM and interrupts stay on: the erase keeps the main loop busy, no stall.
    expect(outs[4]).toMatchObject({ stallMs: 0, busyMs: 45 + 4 * RP2040_TIMING.writeBlockMs });
    expect(flash.read(APP, 64)).toEqual(data[0]);
    expect(flash.read(APP + 256, 256).every((b) => b === 0xff)).toBe(true); // erased; block 4 still in RAM
    const eof = driver.complete();
    expect(eof.busyMs).toBe(4 * RP2040_TIMING.writeBlockMs); // APP + 256 does not start a sector: no erase
    expect(eof.pages).toBe(2);
    expect(flash.read(APP + 256, 64)).toEqual(data[4]);
    expect(flash.read(APP + 4096, 64)).toEqual(new Uint8Array(64)); // the next sector: untouched
  });

  it("a block resent after its page was flushed: programmed over it without an erase (corrupt), or — in a sector's first page — the sector is erased again (other pages lost)", () => {
    const { flash, driver } = chip();
    const x = randomBytes(64, 1);
    const y = randomBytes(64, 2);
    driver.writeBlock(APP + 256, x);
    driver.writeBlock(APP + 512, randomBytes(64, 3)); // flushes the page at APP + 256
    driver.writeBlock(APP + 256, y); // "resend": flushes APP + 512, buffers APP + 256 again
    driver.complete();
    expect(flash.read(APP + 256, 64)).toEqual(x.map((b, i) => b & y[i]!));

    const c2 = chip();
    const first = randomBytes(64, 4);
    c2.driver.writeBlock(APP, first);
    c2.driver.writeBlock(APP + 256, randomBytes(64, 5)); // flushes APP (erase + program)
    c2.driver.writeBlock(APP, first); // identical resend of the sector's first block
    const eof = c2.driver.complete();
    expect(eof.busyMs).toBeGreaterThanOrEqual(45); // the sector is erased again…
    expect(c2.flash.read(APP + 256, 64).every((b) => b === 0xff)).toBe(true); // …losing APP + 256
  });

  it("refuses an unaligned block, one below the flash and one past its end", () => {
    const { driver } = chip();
    expect(driver.writeBlock(APP + 8, new Uint8Array(64)).code).toBe(-1);
    expect(driver.writeBlock(BASE - 64, new Uint8Array(64)).code).toBe(-2);
    expect(driver.writeBlock(BASE + 64 * 1024, new Uint8Array(64)).code).toBe(-3);
  });
});
