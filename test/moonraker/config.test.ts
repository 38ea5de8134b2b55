// The agent's config: flashing off by default, the shipped example loads,
// a bad file is refused with the key that is wrong.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAgentConfig } from "../../src/moonraker/config.js";
import { AgentConfigError } from "../../src/moonraker/errors.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-agent-config-"));

describe("agent config", () => {
  it("no file at the default place: defaults, flashing off", async () => {
    const c = await loadAgentConfig(undefined, { cwd: dir, home: dir });
    expect(c).toMatchObject({
      path: undefined,
      allowFlash: false,
      firmware: join(dir, "klipper/out/klipper.bin"),
      jobs: 1,
      klipperService: "klipper",
    });
  });

  it("the shipped example loads; paths are relative to the file, ~ to home", async () => {
    const c = await loadAgentConfig(resolve(__dirname, "../../examples/moonraker/canflash.yaml"), {
      cwd: dir,
      home: "/home/pi",
    });
    expect(c).toMatchObject({
      allowFlash: true,
      firmware: "/home/pi/klipper/out/klipper.bin",
      boards: { T1: "/home/pi/klipper/out-rp2040/klipper.bin" },
    });
    const f = join(dir, "rel.yaml");
    writeFileSync(f, "allow_flash: true\nfirmware: out/k.bin\n");
    expect((await loadAgentConfig(f, { cwd: "/", home: "/h" })).firmware).toBe(
      join(dir, "out/k.bin"),
    );
  });

  it("a named file that is missing, or a wrong key or value, is refused", async () => {
    await expect(loadAgentConfig(join(dir, "nope.yaml"), { cwd: dir })).rejects.toBeInstanceOf(
      AgentConfigError,
    );
    const f = join(dir, "bad.yaml");
    writeFileSync(f, "allow_flash: true\nfirmwar: x.bin\n");
    await expect(loadAgentConfig(f, { cwd: dir })).rejects.toThrow(/firmwar/);
    writeFileSync(f, "allow_flash: 1\n");
    await expect(loadAgentConfig(f, { cwd: dir })).rejects.toThrow(/allow_flash/);
  });
});
