// SerialTransport over a real pseudo-terminal.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { PortInUseError, PortNotFoundError } from "../../src/transport/serial-errors.js";
import { openSerial } from "../../src/transport/serial.js";
import { openPty } from "../fakes/pty.js";

describe("SerialTransport on a pty", () => {
  it("writes, reads with a deadline, changes speed; a refused DTR is reported, not fatal", async () => {
    const pty = await openPty();
    const got: number[] = [];
    pty.onData((b) => got.push(...b));
    const port = await openSerial({ path: pty.path, baudRate: 250000 });
    await port.write(Uint8Array.of(1, 2, 3));
    pty.write(Uint8Array.of(9, 8, 7));
    let back: number[] = [];
    while (back.length < 3) back = [...back, ...(await port.read(2000))];
    expect(back).toEqual([9, 8, 7]);
    expect((await port.read(20)).length).toBe(0);
    await port.setBaud(1200);
    expect(await port.setLines({ dtr: false })).toBe(false); // a pty has no modem lines
    const deadline = Date.now() + 3000;
    while ((got.length < 3 || pty.baud !== 1200) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([1, 2, 3]);
    expect(pty.baud).toBe(1200);
    await port.close();
    await pty.close();
  });

  it("names the process that holds the port, and refuses a missing device", async () => {
    const pty = await openPty();
    const holder = spawn("sh", ["-c", `exec 3<>${pty.path}; echo held; sleep 30`], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    await new Promise<void>((r) => holder.stdout.once("data", () => r()));
    const e = await openSerial({ path: pty.path, baudRate: 115200 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PortInUseError);
    expect((e as PortInUseError).holders.map((h) => h.pid)).toContain(holder.pid);
    expect((e as Error).message).toMatch(new RegExp(`in use by sh \\(PID ${holder.pid}\\)`));
    holder.kill();
    await pty.close();
    await expect(
      openSerial({ path: "/dev/nonexistent-tty", baudRate: 115200 }),
    ).rejects.toBeInstanceOf(PortNotFoundError);
  });
});
