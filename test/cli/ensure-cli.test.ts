// canflash ensure: idempotent flashing. On the demo bus that keeps its
// boards' flash between runs (-i sim:<dir>), a first run flashes the two
// Katapult boards (changed: true), a second finds them on the image's build
// and sends them nothing (changed: false); both exit 0. A failure is the
// failure's exit code.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JsonEvent } from "../../src/cli/json-events.js";
import { demoImage } from "../../src/flasher/simulate.js";
import { canflash } from "./helpers.js";

function setup(boards: string[]): { dir: string; manifest: string } {
  const dir = mkdtempSync(join(tmpdir(), "canflash-ensure-"));
  writeFileSync(join(dir, "klipper.bin"), demoImage({ size: 8192 }));
  const manifest = join(dir, "boards.yaml");
  writeFileSync(
    manifest,
    [
      `interface: sim:${join(dir, "state")}`,
      "firmware: klipper.bin",
      "boards:",
      ...boards.map((u) => `  - { uuid: ${u} }`),
      "",
    ].join("\n"),
  );
  return { dir, manifest };
}

const result = (stdout: string) => {
  const last = JsonEvent.parse(JSON.parse(stdout.trim().split("\n").at(-1)!));
  if (last.type !== "result") throw new Error("no result");
  return last;
};

describe("canflash ensure", () => {
  it("flashes what differs, then changes nothing; exit 0 both times", async () => {
    const { dir, manifest } = setup(["8266c4636429", "ef00c3c43f24"]);
    const first = await canflash(["ensure", "--manifest", manifest, "--json"], { cwd: dir });
    expect(first.code).toBe(0);
    const r1 = result(first.stdout);
    expect(r1.changed).toBe(true);
    expect(r1.boards!.map((b) => `${b.board}:${b.result}:${b.changed}`)).toEqual([
      "8266c4636429:ok:true",
      "ef00c3c43f24:ok:true",
    ]);
    const second = await canflash(["ensure", "--manifest", manifest, "--json"], { cwd: dir });
    expect(second.code).toBe(0);
    const r2 = result(second.stdout);
    expect(r2.changed).toBe(false);
    expect(r2.boards!.map((b) => `${b.board}:${b.result}:${b.changed}`)).toEqual([
      "8266c4636429:current:false",
      "ef00c3c43f24:current:false",
    ]);
    // nothing was asked into its bootloader the second time
    expect(second.stdout).not.toMatch(/requesting its bootloader/);
    const text = await canflash(["ensure", "--manifest", manifest], { cwd: dir });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Nothing changed$/m);
  }, 60_000);

  it("a board that does not answer is a failure (its exit code), not 'unchanged'", async () => {
    const { dir, manifest } = setup(["0badc0ffee01"]);
    const r = await canflash(["ensure", "--manifest", manifest, "--json"], { cwd: dir });
    expect(r.code).toBe(3);
    const res = result(r.stdout);
    expect(res).toMatchObject({ ok: false, changed: false });
    expect(res.boards![0]).toMatchObject({ result: "failed", changed: false });
  }, 30_000);

  it("--readback: the boards' flash read back decides; identical boards get nothing written and are started again", async () => {
    const { dir, manifest } = setup(["8266c4636429", "ef00c3c43f24"]);
    const args = ["ensure", "--readback", "--manifest", manifest, "--json"];
    const first = await canflash(args, { cwd: dir });
    expect(first.code).toBe(0);
    expect(result(first.stdout).changed).toBe(true);
    const second = await canflash(args, { cwd: dir });
    expect(second.code).toBe(0);
    const r2 = result(second.stdout);
    expect(r2.changed).toBe(false);
    expect(r2.boards!.map((b) => `${b.board}:${b.result}:${b.changed}`)).toEqual([
      "8266c4636429:ok:false",
      "ef00c3c43f24:ok:false",
    ]);
    // read back (the compare phase), never written
    const events = second.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; phase?: string });
    expect(events.some((e) => e.type === "phase" && e.phase === "compare")).toBe(true);
    expect(events.some((e) => e.type === "phase" && e.phase === "write")).toBe(false);
    const text = await canflash(["ensure", "--readback", "--manifest", manifest], { cwd: dir });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/unchanged: read back identical, nothing written/);
    expect(text.stdout).toMatch(/^Nothing changed$/m);
  }, 90_000);
});
