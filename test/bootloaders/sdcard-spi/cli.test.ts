// canflash -d <tty> --target <flash-sdcard board> klipper.bin as a user
// runs it (the built CLI in a child process; npm run build first) against
// the simulated board on a pty: the flash end to end with its result line,
// an image built for another bootloader offset refused, and a board whose bootloader needs a vendor conversion refused with
// Klipper's own command.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { canflash } from "../../cli/helpers.js";
import { image, NEW, OLD, testBoard } from "./board.js";
import { mdir, removeTempDirs, tempDir } from "./fat-images.js";
import { boardOnPty, type BoardOnPty } from "./pty.js";

const ptys: BoardOnPty[] = [];
afterEach(async () => {
  await Promise.all(ptys.splice(0).map((p) => p.stop()));
});
afterAll(removeTempDirs);
/** A flash of ~20 KiB over a pty, the child's start included. */
const CLI_MS = 90_000;

describe("canflash -d <tty> --target btt-skr-mini-e3-v2-spi klipper.bin", () => {
  it(
    "flashes through the running Klipper: FIRMWARE.CUR on the card, the new build answering",
    async () => {
      const tb = testBoard("btt-skr-mini-e3-v2");
      const pty = await boardOnPty(tb.board);
      ptys.push(pty);
      const dir = tempDir();
      const fw = join(dir, "klipper.bin");
      writeFileSync(fw, image(tb.row, NEW));
      const r = await canflash(["-d", pty.path, "--target", "btt-skr-mini-e3-v2-spi", fw], {
        timeoutMs: CLI_MS,
      });
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      await tb.board.booted;
      expect(tb.board.dictionary?.version).toBe(NEW);
      expect(tb.board.events.filter((e) => e.type === "flashed")).toHaveLength(1);
      expect(`${r.stdout}${r.stderr}`).toMatch(/renamed firmware.bin to FIRMWARE.CUR/);
      const card = join(dir, "card.img");
      writeFileSync(card, tb.board.card!.image);
      expect(mdir(card).trim()).toBe("::/FIRMWARE.CUR");
    },
    CLI_MS,
  );

  it(
    "a skip_verify board (Octopus, software SPI): the result line says the update could not be verified",
    async () => {
      const tb = testBoard("btt-octopus-f446-v1");
      const pty = await boardOnPty(tb.board);
      ptys.push(pty);
      const fw = join(tempDir(), "klipper.bin");
      writeFileSync(fw, image(tb.row, NEW));
      const r = await canflash(["-d", pty.path, "--target", "btt-octopus-f446-v1", fw], {
        timeoutMs: CLI_MS,
      });
      expect(r.code).toBe(0);
      const out = `${r.stdout}${r.stderr}`;
      expect(out).toMatch(
        /Wrote and verified \d+ bytes .*; but the btt-octopus-f446-v1 bootloader leaves nothing on the card .* could not verify the update/,
      );
      expect(out).toMatch(/Klipper answered with the image's data dictionary/);
    },
    CLI_MS,
  );

  it(
    "-s shows the running Klipper and the bootloader's files on the card",
    async () => {
      const tb = testBoard("btt-skr-v1.4");
      const pty = await boardOnPty(tb.board);
      ptys.push(pty);
      const r = await canflash(["-s", "-d", pty.path, "--target", "btt-skr-v1.4"], {
        timeoutMs: CLI_MS,
      });
      expect(r.code).toBe(0);
      const out = `${r.stdout}${r.stderr}`;
      expect(out).toMatch(new RegExp(`Klipper\\s*:?\\s*${OLD}`));
      expect(out).toMatch(/ssp1, CS P0\.6, FAT32/);
      expect(out).toMatch(/FIRMWARE\.CUR\s*:?\s*not on the card/);
    },
    CLI_MS,
  );

  it(
    "refuses an image linked for the wrong bootloader offset before the card is written; exit 6",
    async () => {
      // The SKR 3 (H723) bootloader takes 128 KiB: a build for a 32 KiB one would never start.
      const tb = testBoard("btt-skr-3-h723-spi");
      expect(tb.row.appStart).toBe(0x08020000);
      const pty = await boardOnPty(tb.board);
      ptys.push(pty);
      const dir = tempDir();
      const fw = join(dir, "klipper.bin");
      writeFileSync(fw, image({ ...tb.row, appStart: 0x08008000 }, NEW));
      const r = await canflash(["-d", pty.path, "--target", "btt-skr-3-h723-spi", fw], {
        timeoutMs: CLI_MS,
      });
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/different bootloader offset/);
      expect(r.stderr).toMatch(/Bootloader offset 0x20000/);
      expect(tb.board.events.filter((e) => e.type === "flashed")).toEqual([]);
      expect(tb.board.dictionary?.version).toBe(OLD);
      const card = join(dir, "card.img");
      writeFileSync(card, tb.board.card!.image);
      expect(mdir(card).trim()).toBe("");
    },
    CLI_MS,
  );

  it("refuses a board whose bootloader needs a vendor conversion, naming Klipper's script; exit 2", async () => {
    const tb = testBoard("btt-skr-mini-spi");
    const fw = join(tempDir(), "klipper.bin");
    writeFileSync(fw, image(tb.row, OLD));
    const r = await canflash(["-d", "/dev/ttyACM-none", "--target", "mks-robin-e3d", fw]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/flash-sdcard.sh <device> mks-robin-e3/);
    expect(tb.board.events.filter((e) => e.type === "command")).toEqual([]);
  });
});
