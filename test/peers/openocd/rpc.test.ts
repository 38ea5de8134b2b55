// canflash's OpenOCD RPC client and process lifecycle against the real
// openocd 0.12 with the dummy adapter (no hardware): commands and their
// output, command errors as typed errors, a started openocd killed on
// stop, abort and failure, and shutdown.
import { describe, expect, it } from "vitest";
import {
  OpenOcdCommandError,
  OpenOcdConfigNotFoundError,
  OpenOcdNotInstalledError,
  OpenOcdUnreachableError,
} from "../../../src/bootloaders/openocd/errors.js";
import { cmsisDapConfig } from "../../../src/bootloaders/openocd/config.js";
import { launchOpenOcd } from "../../../src/bootloaders/openocd/process.js";
import { OpenOcdRpc } from "../../../src/bootloaders/openocd/rpc-client.js";
import { realClock } from "../../../src/util/clock.js";
import { alive, configFile, DUMMY_CONFIG, haveOpenOcd, OPENOCD } from "./harness.js";

describe.skipIf(!haveOpenOcd)("openocd 0.12 over TCL RPC (dummy adapter)", () => {
  it("runs commands and returns their output", async () => {
    const { process: p, rpc } = await launchOpenOcd({
      bin: OPENOCD,
      config: configFile(DUMMY_CONFIG),
      clock: realClock,
    });
    try {
      expect(await rpc.run("version")).toMatch(/^Open On-Chip Debugger 0\.12/);
      expect(await rpc.run("transport select")).toBe("jtag");
      expect((await rpc.run("jtag names")).split(/\s+/)[0]).toBe("chip.cpu");
      // a command that prints (capture) rather than returns
      expect(await rpc.run("echo {hello world}")).toBe("hello world");
      // several commands queued at once come back in order
      const r = await Promise.all([
        rpc.run("expr {1+1}"),
        rpc.run("expr {2*3}"),
        rpc.run("set x 7"),
      ]);
      expect(r).toEqual(["2", "6", "7"]);
    } finally {
      await rpc.close();
      await p.stop();
    }
    expect(p.hasExited).toBe(true);
  });

  it("turns a failed command into an error with its output, and goes on", async () => {
    const { process: p, rpc } = await launchOpenOcd({
      bin: OPENOCD,
      config: configFile(DUMMY_CONFIG),
      clock: realClock,
    });
    try {
      const e = await rpc.run("at91samd chip-erase").catch((x: unknown) => x);
      expect(e).toBeInstanceOf(OpenOcdCommandError);
      expect(e).toMatchObject({
        command: "at91samd chip-erase",
        output: 'invalid command name "at91samd"',
        tclCode: 1,
      });
      const f = await rpc.run("error {boom}").catch((x: unknown) => x);
      expect(f).toMatchObject({ output: "boom" });
      expect(await rpc.run("version")).toMatch(/0\.12/);
    } finally {
      await rpc.close();
      await p.stop();
    }
  });

  it("shutdown ends openocd and the connection", async () => {
    const { process: p, rpc } = await launchOpenOcd({
      bin: OPENOCD,
      config: configFile(DUMMY_CONFIG),
      clock: realClock,
    });
    await rpc.raw("shutdown");
    expect(await p.waitExit(5000)).toBe(true);
    expect(p.exit?.code).toBe(0);
    await expect(rpc.run("version")).rejects.toBeInstanceOf(OpenOcdUnreachableError);
  });

  it("connects to an openocd already running", async () => {
    const { process: p, rpc } = await launchOpenOcd({
      bin: OPENOCD,
      config: configFile(DUMMY_CONFIG),
      clock: realClock,
    });
    try {
      const second = await OpenOcdRpc.connect("127.0.0.1", p.port, realClock);
      expect(await second.run("transport select")).toBe("jtag");
      await second.close();
      // closing a client leaves openocd running
      expect(await rpc.run("version")).toMatch(/0\.12/);
    } finally {
      await rpc.close();
      await p.stop();
    }
  });

  it("kills the child when aborted", async () => {
    const ac = new AbortController();
    const { process: p, rpc } = await launchOpenOcd({
      bin: OPENOCD,
      config: configFile(DUMMY_CONFIG),
      clock: realClock,
    });
    const pid = p.child.pid!;
    expect(alive(pid)).toBe(true);
    const pending = rpc.run("sleep 5000", { signal: ac.signal, timeoutMs: 10_000 });
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: "ABORTED" });
    await p.stop();
    expect(alive(pid)).toBe(false);
  });

  it("a config OpenOCD cannot find is a typed error, and nothing keeps running", async () => {
    const e = await launchOpenOcd({
      bin: OPENOCD,
      config: "/nonexistent/board.cfg",
      clock: realClock,
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenOcdConfigNotFoundError);
    expect(e).toMatchObject({ config: "/nonexistent/board.cfg" });
  });

  it("a missing binary is OPENOCD_NOT_INSTALLED", async () => {
    const e = await launchOpenOcd({
      bin: "/nonexistent/openocd",
      config: configFile(DUMMY_CONFIG),
      clock: realClock,
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenOcdNotInstalledError);
  });

  it("passes the caller's environment to the child", async () => {
    const cfg = configFile(`${DUMMY_CONFIG}set canflash_probe $::env(CANFLASH_TEST_VALUE)\n`);
    const { process: p, rpc } = await launchOpenOcd({
      bin: OPENOCD,
      config: cfg,
      clock: realClock,
      env: { ...process.env, CANFLASH_TEST_VALUE: "from-the-test" },
    });
    try {
      expect(await rpc.run("set canflash_probe")).toBe("from-the-test");
    } finally {
      await rpc.close();
      await p.stop();
    }
  });

  it("a CMSIS-DAP config with no probe plugged in: the adapter-not-found error, for cmsis-dap", async () => {
    const config = configFile(
      cmsisDapConfig({
        usbId: "c251:f00f",
        speedKhz: 1000,
        targetCfg: "target/at91samdXX.cfg",
        workAreaSize: 0,
      }),
    );
    const e = await launchOpenOcd({
      bin: OPENOCD,
      config,
      clock: realClock,
      adapter: "cmsis-dap",
    }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "OPENOCD_ADAPTER_NOT_FOUND", adapter: "cmsis-dap" });
  });

  it("a config that runs init itself, as the seed's ends with init/targets: canflash's ports still apply", async () => {
    const config = configFile(`${DUMMY_CONFIG}init\ntargets\n`);
    const { process: p, rpc } = await launchOpenOcd({ bin: OPENOCD, config, clock: realClock });
    try {
      expect(await rpc.run("version")).toMatch(/0\.12/);
      expect(p.text).toMatch(/telnet server disabled/);
    } finally {
      await rpc.close();
      await p.stop();
    }
  });
});
