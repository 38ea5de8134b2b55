// flash-sdcard end to end against the simulated board: the running Klipper
// with an SD card model on the row's SPI wiring and the board's SD
// bootloader behind `reset`. Success (FIRMWARE.CUR, new dictionary),
// read-back mismatch (no reset, old firmware still runs), no card, the
// wrong board row, an already-configured MCU, a card without FAT, software
// SPI rows (both commands), requires_unique_fw_name, refused conversion rows.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sdSpiAdapter, sdSpiStatus } from "../../../src/bootloaders/sdcard-spi/driver.js";
import {
  ConversionUnsupportedError,
  NotConfirmedError,
  NotKlipperError,
  SdNoCardError,
  UnknownNameError,
} from "../../../src/bootloaders/sdcard-spi/errors.js";
import { explain } from "../../../src/cli/hints/index.js";
import { SD_RATE_FAST } from "../../../src/bootloaders/sdcard-spi/klipper-spi.js";
import { FatFormatError, FatFullError } from "../../../src/entry/fat/layout.js";
import { FatVolume } from "../../../src/entry/fat/volume.js";
import { DryRunStopError } from "../../../src/flash-api/errors.js";
import type { FlashEvent } from "../../../src/flash-api/progress.js";
import { DigestMismatchError, FlashError } from "../../../src/flasher/errors.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { SdCardModel } from "../../../src/sim/sdcard/card.js";
import { MockTransport } from "../../../src/transport/mock.js";
import { realClock } from "../../../src/util/clock.js";
import { fatCard, image, NEW, OLD, testBoard, type TestBoard } from "./board.js";
import { fsck, mdir, removeTempDirs, tempDir } from "./fat-images.js";

afterAll(removeTempDirs);
const NOW = () => new Date(2024, 0, 2, 3, 4, 5);
/** A whole flash of ~20 KiB through 48-byte SPI transfers in process. */
const FLASH_MS = 60_000;

async function flash(tb: TestBoard, img: Uint8Array, dryRun = false, spiRate?: number) {
  const events: FlashEvent[] = [];
  const adapter = sdSpiAdapter(
    tb.row,
    { kind: "serial", device: "/dev/ttyACM-sim" },
    { clock: realClock },
    {
      open: tb.open,
      now: NOW,
      reconnectTimeoutMs: 5000,
      ...(spiRate ? { spiRate } : {}),
    },
  );
  const result = await runFlash(
    adapter,
    (d) => ({ segments: [{ address: d.geometry.start, data: img }] }),
    { onEvent: (e) => events.push(e), dryRun },
  ).finally(() => tb.board.booted); // the last reset (the board left unconfigured for Klippy)
  return { result, events, infos: events.flatMap((e) => (e.type === "info" ? [e.message] : [])) };
}

async function failure(p: Promise<unknown>): Promise<FlashError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(FlashError);
  return e as FlashError;
}

const resets = (tb: TestBoard) => tb.board.events.filter((e) => e.type === "reset").length;

/** The card's image as a file, for mtools and fsck. */
function cardFile(card: SdCardModel): string {
  const p = join(tempDir(), "card.img");
  writeFileSync(p, card.image);
  return p;
}

describe("flash-sdcard through the running Klipper", () => {
  it(
    "writes firmware.bin over SPI, verifies it, resets; the bootloader flashes and renames it FIRMWARE.CUR; the new build answers",
    async () => {
      const tb = testBoard("btt-skr-mini-e3-v2-spi");
      expect(tb.row.id).toBe("btt-skr-mini-spi");
      const img = image(tb.row, NEW);
      const { result, infos } = await flash(tb, img);
      expect(result.verified).toBe(true);
      expect(result.device.unverified).toBeUndefined();
      expect(resets(tb)).toBe(2); // the one that flashes, and the one that leaves it unconfigured
      expect(tb.board.events).toContainEqual({
        type: "flashed",
        bytes: img.length,
        name: "firmware.bin",
      });
      expect(tb.board.dictionary?.version).toBe(NEW);
      expect(tb.board.app.subarray(0, img.length)).toEqual(img);
      const file = cardFile(tb.board.card!);
      expect(mdir(file).trim().split("\n")).toEqual(["::/FIRMWARE.CUR"]);
      expect(fsck(file)).toBe("clean");
      expect(infos.join("\n")).toMatch(/read back identical \(SHA-1 [0-9a-f]{40}\)/);
      expect(infos.join("\n")).toMatch(/renamed firmware.bin to FIRMWARE.CUR/);
      // What went over SPI: the card's init sequence on the row's bus, then sector traffic.
      const cmds = tb.board.events.filter((e) => e.type === "command").map((e) => e.name);
      expect(cmds).toContain("get_config");
      expect(cmds).toContain("spi_set_bus");
      expect(cmds).toContain("spi_send");
    },
    FLASH_MS,
  );

  it(
    "a read-back mismatch sends no reset: the board still runs the old build and the bad file is gone",
    async () => {
      const card = fatCard(32, 40);
      const data = (
        await FatVolume.open({
          read: async (s) => card.image.slice(s * 512, (s + 1) * 512),
          write: async () => undefined,
        })
      ).layout.dataSector;
      const failing = new SdCardModel({
        image: card.image,
        corruptWrites: (s) => s > data + 8, // data clusters past the root folder's
      });
      const tb = testBoard("btt-skr-mini-spi", { card: failing });
      const e = await failure(flash(tb, image(tb.row, NEW)));
      expect(e.phase).toBe("verify");
      expect(e.cause).toBeInstanceOf(DigestMismatchError);
      expect(resets(tb)).toBe(0);
      expect(tb.board.events.some((x) => x.type === "command" && x.name === "reset")).toBe(false);
      expect(tb.board.dictionary?.version).toBe(OLD);
      expect(mdir(cardFile(tb.board.card!))).not.toMatch(/firmware\.bin/i);
      const x = explain(e, { iface: "can0" });
      expect(x.exitCode).toBe(4);
      expect(x.causes.join("\n")).toMatch(/not reset: it still runs the firmware it had/);
    },
    FLASH_MS,
  );

  it(
    "the fast SD clock (flash-sdcard -s) is the one spi_set_bus the SPI device gets",
    async () => {
      const tb = testBoard("btt-skr-mini-spi");
      await flash(tb, image(tb.row, NEW), true, SD_RATE_FAST); // a dry run leaves it configured
      expect(tb.board.spiDevices).toEqual([{ cs: "PA4", bus: "spi1", rate: SD_RATE_FAST }]);
      expect(tb.board.events.filter((e) => e.type === "shutdown")).toEqual([]);
    },
    FLASH_MS,
  );

  it(
    "a bootloader that does not take the file: NotConfirmedError, the file removed, the old build still runs",
    async () => {
      const tb = testBoard("btt-skr-mini-spi", {
        extra: { bootloader: { firmwareName: "other.bin", currentName: "OTHER.CUR" } },
      });
      const e = await failure(flash(tb, image(tb.row, NEW)));
      expect(e.phase).toBe("finish");
      expect(e.cause).toBeInstanceOf(NotConfirmedError);
      expect((e.cause as NotConfirmedError).reason).toBe("file-left");
      expect(tb.board.dictionary?.version).toBe(OLD);
      expect(mdir(cardFile(tb.board.card!))).not.toMatch(/firmware\.bin/i);
      expect(explain(e, { iface: "can0" }).causes.join("\n")).toMatch(
        /did not take the file \(canflash removed it\)/,
      );
    },
    FLASH_MS,
  );

  it("an empty slot is SdNoCardError naming the row's bus and chip select; nothing is reset", async () => {
    const tb = testBoard("btt-skr-mini-spi", { card: null });
    const e = await failure(flash(tb, image(tb.row, NEW)));
    expect(e.cause).toBeInstanceOf(SdNoCardError);
    expect(e.cause.message).toBe(
      "no SD card answered on spi1 with chip select PA4 (the btt-skr-mini-spi row's wiring)",
    );
    expect(e.deviceState).toBe("untouched");
    expect(resets(tb)).toBe(0);
  });

  it("the wrong board row (a Flyboard Mini's SD slot is spi2/PB12) finds no card", async () => {
    const tb = testBoard("btt-skr-mini-spi", { wiring: { bus: "spi2", cs: "PB12" } });
    const e = await failure(flash(tb, image(tb.row, NEW)));
    expect(e.cause).toBeInstanceOf(SdNoCardError);
    expect(tb.board.card!.events).toEqual([]); // the card never saw a clock
    expect(tb.board.dictionary?.version).toBe(OLD);
  });

  it(
    "an MCU Klippy configured already is reset and reconnected first (Klipper takes its config once per boot)",
    async () => {
      const tb = testBoard("btt-skr-mini-spi", { extra: { configured: true } });
      const { result, infos } = await flash(tb, image(tb.row, NEW));
      expect(result.verified).toBe(true);
      expect(infos[0]).toMatch(/configured already: reset it and reconnected/);
      expect(resets(tb)).toBe(3);
      expect(tb.board.events.filter((e) => e.type === "shutdown")).toEqual([]);
      expect(tb.board.dictionary?.version).toBe(NEW);
    },
    FLASH_MS,
  );

  it("a dry run does not reset a configured Klipper: it stops and says a real run would", async () => {
    const tb = testBoard("btt-skr-mini-spi", { extra: { configured: true } });
    const e = await failure(flash(tb, image(tb.row, NEW), true));
    expect(e.cause).toBeInstanceOf(DryRunStopError);
    expect(e.cause.message).toMatch(/a real run would reset it first/);
    expect(resets(tb)).toBe(0);
  });

  it("a row whose pins the running build does not name (an SKR 1.4 row on an STM32 build) is UnknownNameError", async () => {
    const stm = testBoard("btt-skr-mini-spi");
    const tb = testBoard("btt-skr-v1.4", { firmware: image(stm.row, OLD) });
    const e = await failure(flash(tb, image(tb.row, NEW)));
    expect(e.cause).toBeInstanceOf(UnknownNameError);
    expect(e.cause).toMatchObject({ kind: "pin", value: "P0.6" });
    expect(tb.board.card!.events).toEqual([]);
  });

  it("a card without FAT is refused before anything is written", async () => {
    const tb = testBoard("btt-skr-mini-spi", {
      card: new SdCardModel({ image: new Uint8Array(4096 * 512) }),
    });
    const e = await failure(flash(tb, image(tb.row, NEW)));
    expect(e.cause).toBeInstanceOf(FatFormatError);
    expect(tb.board.card!.events.some((x) => x.type === "write")).toBe(false);
  });

  it("a full card is FatFullError: nothing under the firmware's name, no reset", async () => {
    const card = fatCard(12, 2, { files: { "photos.zip": new Uint8Array(2_070_000) } });
    const tb = testBoard("btt-skr-mini-spi", { card });
    const e = await failure(flash(tb, image(tb.row, NEW)));
    expect(e.cause).toBeInstanceOf(FatFullError);
    expect(resets(tb)).toBe(0);
    expect(mdir(cardFile(card)).trim()).toBe("::/photos.zip");
  });

  it(
    "-s reports the running Klipper, the card and the bootloader's files",
    async () => {
      const tb = testBoard("btt-skr-mini-spi");
      await flash(tb, image(tb.row, NEW));
      const r = await sdSpiStatus(tb.row, "/dev/ttyACM-sim", tb.open, { clock: realClock });
      expect(r.description).toBe(`Klipper ${NEW} on stm32f103xe (btt-skr-mini), SD card ready`);
      expect(r.fields).toContainEqual({ label: "firmware.bin", value: "not on the card" });
      expect(r.fields.find((f) => f.label === "FIRMWARE.CUR")?.value).toMatch(
        /^20000 bytes, SHA-1 [0-9a-f]{40}$/,
      );
    },
    FLASH_MS,
  );

  it("a port that does not answer as Klipper is NotKlipperError", async () => {
    const tb = testBoard("btt-skr-mini-spi");
    const adapter = sdSpiAdapter(
      tb.row,
      { kind: "serial", device: "/dev/null-ish" },
      { clock: realClock },
      {
        open: async () => new MockTransport(realClock, () => undefined, "/dev/null-ish"),
        identifyTimeoutMs: 600,
      },
    );
    const e = await failure(
      runFlash(adapter, { segments: [{ address: 0, data: new Uint8Array(16) }] }),
    );
    expect(e.cause).toBeInstanceOf(NotKlipperError);
  }, 10_000);

  it.each([false, true])(
    "software SPI rows (legacy spi_set_software_bus: %s); a skip_verify board's result says it could not verify",
    async (legacy) => {
      const tb = testBoard("btt-octopus-pro-f446-v1.0", { legacySoftwareSpi: legacy });
      expect(tb.row.id).toBe("btt-octopus-f446-v1-spi");
      const { result } = await flash(tb, image(tb.row, NEW, { legacySoftwareSpi: legacy }));
      const cmds = tb.board.events.filter((e) => e.type === "command").map((e) => e.name);
      expect(cmds).toContain(legacy ? "spi_set_software_bus" : "spi_set_sw_bus");
      expect(result.device.unverified).toMatch(/could not verify the update/);
      expect(tb.board.dictionary?.version).toBe(NEW);
    },
    FLASH_MS,
  );

  it(
    "requires_unique_fw_name: the file is dated and older .bin files go first",
    async () => {
      const card = fatCard(32, 40);
      const tb = testBoard("creality-v4.2.7", { card });
      const v = await FatVolume.open({
        read: async (s) => card.image.slice(s * 512, (s + 1) * 512),
        write: async (s, d) => void card.image.set(d, s * 512),
      });
      await v.write("20200101000000firmware.bin", Uint8Array.of(1, 2, 3));
      await v.write("notes.txt", Uint8Array.of(4));
      const { infos } = await flash(tb, image(tb.row, NEW));
      expect(infos.join("\n")).toMatch(/removed 20200101000000firmware.bin/);
      const names = mdir(cardFile(card)).trim().split("\n").sort();
      expect(names).toEqual(["::/20240102030405firmware.bin", "::/notes.txt"]);
      expect(tb.board.dictionary?.version).toBe(NEW);
    },
    FLASH_MS,
  );

  it("a board whose bootloader needs a vendor conversion is refused before the port is opened", async () => {
    const tb = testBoard("mks-robin-e3d");
    const e = await failure(flash(tb, image(tb.row, NEW)));
    expect(e.cause).toBeInstanceOf(ConversionUnsupportedError);
    expect(e.cause.message).toMatch(/update_mks_robin.py/);
    expect(tb.opened).toBe(0);
  });

  it(
    "a dry run (flash-sdcard -c) compares without writing: same build, FIRMWARE.CUR is the image",
    async () => {
      const tb = testBoard("btt-skr-mini-spi");
      const img = image(tb.row, NEW);
      await flash(tb, img);
      const writes = () => tb.board.card!.events.filter((e) => e.type === "write").length;
      const flashes = () => tb.board.events.filter((e) => e.type === "flashed").length;
      const [w, f] = [writes(), flashes()];
      const { infos, result } = await flash(tb, img, true);
      expect(result.dryRun).toBe(true);
      expect(infos.join("\n")).toMatch(
        /runs this image's build.*FIRMWARE.CUR on the card is this image/s,
      );
      expect([writes(), flashes()]).toEqual([w, f]);
    },
    FLASH_MS,
  );
});
