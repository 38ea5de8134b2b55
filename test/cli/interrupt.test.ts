// Interrupted is exit 130 at every moment: a Ctrl-C after the image was read
// and before any board is started never ends as success, and a board that was
// not started says "not started: interrupted".
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../src/cli/program.js";
import type { CliIo } from "../../src/cli/io.js";
import { klipperImage } from "../../src/sim/klipper-image.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-int-"));
const file = join(dir, "klipper.bin");
writeFileSync(
  file,
  klipperImage({
    mcu: "stm32g0b1xx",
    transport: "can",
    appStart: 0x08002000,
    canbusFrequency: 1_000_000,
  }),
);

/** run() that aborts its signal the moment a stdout line matches `when`. */
async function interruptedRun(args: string[], when: RegExp) {
  const ac = new AbortController();
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: {
      write: (t) => {
        stdout += t;
        if (when.test(t)) ac.abort(new Error("SIGINT"));
      },
      isTTY: false,
    },
    stderr: { write: (t) => void (stderr += t), isTTY: false },
    env: {},
    cwd: dir,
  };
  const code = await run(args, io, ac.signal);
  return { code, stdout, stderr };
}

describe("Ctrl-C", () => {
  for (const json of [false, true]) {
    it(`before any board started${json ? " (--json)" : ""}: exit 130, nobody 'ok'`, async () => {
      const r = await interruptedRun(
        [
          "-i",
          "sim",
          "-u",
          "8266c4636429",
          "-u",
          "ef00c3c43f24",
          ...(json ? ["--json"] : []),
          file,
        ],
        /Flashing 2 boards/,
      );
      expect(r.code).toBe(130);
      if (json) {
        const result = JSON.parse(r.stdout.trimEnd().split("\n").at(-1)!) as {
          ok: boolean;
          exitCode: number;
          boards?: { result: string; error?: { message: string } }[];
          error?: { code: string };
        };
        expect(result.ok).toBe(false);
        expect(result.exitCode).toBe(130);
        expect(result.error?.code).toBe("ABORTED");
      } else {
        expect(r.stderr).toMatch(/interrupted/);
      }
    });
  }

  it("during one board's flash: the other is 'not started: interrupted', exit 130", async () => {
    const r = await interruptedRun(
      ["-i", "sim", "--jobs", "1", "-u", "8266c4636429", "-u", "ef00c3c43f24", "--json", file],
      /"phase":"write","status":"start"/,
    );
    expect(r.code).toBe(130);
    const result = JSON.parse(r.stdout.trimEnd().split("\n").at(-1)!) as {
      ok: boolean;
      boards: { board: string; result: string; error?: { message: string } }[];
    };
    expect(result.ok).toBe(false);
    const second = result.boards.find((b) => b.board === "ef00c3c43f24")!;
    expect(second.result).toBe("skipped");
    expect(second.error?.message).toBe("not started: interrupted");
    expect(result.boards.every((b) => b.result !== "ok")).toBe(true);
  });
});
