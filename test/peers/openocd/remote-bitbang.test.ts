// The real openocd 0.12 scanning a JTAG chain through remote_bitbang (its
// JTAG-only socket adapter) into canflash's TAP model: the IDCODE the model
// holds is what OpenOCD reads, a matching one is "target found", another is
// the typed wrong-IDCODE error, whether read over RPC (scan_chain) or from
// what openocd printed while starting.
import { afterEach, describe, expect, it } from "vitest";
import { classifyOpenOcd } from "../../../src/bootloaders/openocd/classify.js";
import { OpenOcdWrongIdcodeError } from "../../../src/bootloaders/openocd/errors.js";
import { examine } from "../../../src/bootloaders/openocd/examine.js";
import { launchOpenOcd } from "../../../src/bootloaders/openocd/process.js";
import { RemoteBitbangServer } from "../../../src/sim/jtag/remote-bitbang.js";
import { JtagTap } from "../../../src/sim/jtag/tap.js";
import { realClock } from "../../../src/util/clock.js";
import { bitbangConfig, configFile, haveOpenOcd, OPENOCD } from "./harness.js";

const ARM_JTAG_DP = 0x4ba00477;
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function openocdOn(idcode: number, expected: number) {
  const tap = new JtagTap({ idcode });
  const bitbang = await RemoteBitbangServer.listen(tap);
  cleanup.push(() => bitbang.close());
  const config = configFile(bitbangConfig(bitbang.port, expected));
  const { process: p, rpc } = await launchOpenOcd({
    bin: OPENOCD,
    config,
    clock: realClock,
    adapter: "remote_bitbang",
  });
  cleanup.push(async () => {
    await rpc.close();
    await p.stop();
  });
  return { tap, bitbang, p, rpc };
}

describe.skipIf(!haveOpenOcd)("openocd 0.12 through remote_bitbang into the TAP model", () => {
  it("finds the target: the IDCODE the model holds, on the TAP the config names", async () => {
    const { rpc, bitbang, tap } = await openocdOn(ARM_JTAG_DP, ARM_JTAG_DP);
    const seen = await examine(rpc);
    expect(seen.transport).toBe("jtag");
    expect(seen.taps).toEqual([
      { name: "chip.cpu", enabled: true, idcode: ARM_JTAG_DP, expected: ARM_JTAG_DP, irLength: 4 },
    ]);
    expect(await rpc.run("jtag names")).toBe("chip.cpu");
    // OpenOCD really clocked the model: edges, TDO reads
    expect(bitbang.stats.reads).toBeGreaterThan(32);
    expect(tap.edges).toBeGreaterThan(64);
    // and reads the IR capture the model produces (IEEE 1149.1: ...01)
    expect(await rpc.run("irscan chip.cpu 0xe; drscan chip.cpu 32 0")).toBe("4ba00477");
  });

  it("another IDCODE is the typed wrong-IDCODE error, over RPC and in openocd's own output", async () => {
    const { rpc, p } = await openocdOn(0x2ba01477, ARM_JTAG_DP);
    const e = await examine(rpc).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenOcdWrongIdcodeError);
    expect(e).toMatchObject({ tap: "chip.cpu", found: "0x2ba01477", expected: ["0x4ba00477"] });
    // what openocd printed while starting says the same
    expect(classifyOpenOcd(p.text)).toMatchObject({
      code: "OPENOCD_WRONG_IDCODE",
      tap: "chip.cpu",
      found: "0x2ba01477",
      expected: ["0x4ba00477"],
    });
  });

  it("remote_bitbang with nothing listening is the adapter-not-found error", async () => {
    const config = configFile(
      [
        "adapter driver remote_bitbang",
        "remote_bitbang host 127.0.0.1",
        "remote_bitbang port 1",
        "transport select jtag",
        "",
      ].join("\n"),
    );
    const e = await launchOpenOcd({
      bin: OPENOCD,
      config,
      clock: realClock,
      adapter: "remote_bitbang",
    }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "OPENOCD_ADAPTER_NOT_FOUND", adapter: "remote_bitbang" });
  });

  it("a TAP that is no ARM debug port: openocd gives up at init, OPENOCD_NO_TARGET from its output", async () => {
    const tap = new JtagTap({ idcode: ARM_JTAG_DP });
    const bitbang = await RemoteBitbangServer.listen(tap);
    cleanup.push(() => bitbang.close());
    const config = configFile(
      `${bitbangConfig(bitbang.port, ARM_JTAG_DP)}dap create chip.dap -chain-position chip.cpu\ntarget create chip.cpu.cm cortex_m -dap chip.dap\n`,
    );
    const e = await launchOpenOcd({ bin: OPENOCD, config, clock: realClock }).catch(
      (x: unknown) => x,
    );
    expect(e).toMatchObject({
      code: "OPENOCD_NO_TARGET",
      detail: expect.stringMatching(/Invalid ACK/),
    });
    // OpenOCD asked the debug port: ARM JTAG-DP's DPACC (0xa) or APACC (0xb) was loaded into the model's IR
    expect([...tap.instructionsSeen].some((i) => i === 0xa || i === 0xb)).toBe(true);
  });
});
