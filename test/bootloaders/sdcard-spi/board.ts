// A simulated flash-sdcard board for tests: the running Klipper (an SPI
// build for the row's MCU) with an SD card model behind the row's SPI
// wiring, its bootloader using the row's file names, and an in-process
// port to it — gone while the board reboots, as a USB board's tty is.
import { readFileSync } from "node:fs";
import { sdSpiProfile } from "../../../src/bootloaders/sdcard-spi/profile.js";
import { SdCardModel, type SdCardOptions } from "../../../src/sim/sdcard/card.js";
import {
  SimSpiKlipperBoard,
  type SdSpiWiring,
  type SimSpiBoardOptions,
} from "../../../src/sim/sdcard/spi-board.js";
import { spiKlipperImage } from "../../../src/sim/sdcard/spi-build.js";
import { findTarget, type Target } from "../../../src/targets/index.js";
import type { ByteTransport } from "../../../src/transport/byte-transport.js";
import { MockTransport } from "../../../src/transport/mock.js";
import { PortNotFoundError } from "../../../src/transport/serial-errors.js";
import { realClock, type Clock } from "../../../src/util/clock.js";
import { mcopyIn, mkfs } from "./fat-images.js";

export const OLD = "v0.12.0-100-gaaaaaaaa";
export const NEW = "v0.13.0-20-gbbbbbbbb";

export function image(
  t: Target,
  version: string,
  o: { legacySoftwareSpi?: boolean; size?: number } = {},
) {
  return spiKlipperImage({
    mcu: t.mcu[0]!,
    transport: "usb",
    appStart: t.appStart ?? 0x08008000,
    version,
    size: o.size ?? 20_000,
    seed: version.length + (o.size ?? 0),
    ...(o.legacySoftwareSpi ? { legacySoftwareSpi: true } : {}),
  });
}

/** A card with a fresh FAT (mkfs.vfat) of `mib` MiB. */
export function fatCard(
  bits: 12 | 16 | 32 = 32,
  mib = 40,
  o: Partial<SdCardOptions> & { files?: Record<string, Uint8Array> } = {},
): SdCardModel {
  const { files, ...rest } = o;
  const img = mkfs(bits, mib);
  for (const [name, data] of Object.entries(files ?? {})) mcopyIn(img, name, data);
  return new SdCardModel({ image: new Uint8Array(readFileSync(img)), ...rest });
}

export interface TestBoard {
  board: SimSpiKlipperBoard;
  row: Target;
  open: () => Promise<ByteTransport>;
  opened: number;
}

export function testBoard(
  rowId: string,
  o: {
    card?: SdCardModel | null;
    wiring?: SdSpiWiring;
    firmware?: Uint8Array;
    legacySoftwareSpi?: boolean;
    clock?: Clock;
    extra?: Partial<SimSpiBoardOptions>;
  } = {},
): TestBoard {
  const row = findTarget(rowId);
  const p = sdSpiProfile(row);
  const clock = o.clock ?? realClock;
  const board = new SimSpiKlipperBoard({
    appStart: row.appStart ?? 0x08008000,
    appSize: 256 * 1024,
    firmware: o.firmware ?? image(row, OLD, o.legacySoftwareSpi ? { legacySoftwareSpi: true } : {}),
    wiring: o.wiring ?? {
      cs: p.csPin,
      ...(p.bus ? { bus: p.bus } : { softwarePins: p.softwarePins! }),
    },
    ...(o.card === null ? {} : { card: o.card ?? fatCard() }),
    bootloader: {
      firmwareName: p.uniqueName ? "*.bin" : p.fileName,
      ...(p.skipVerify ? {} : { currentName: p.currentName }),
    },
    clock,
    ...o.extra,
  });
  const tb: TestBoard = {
    board,
    row,
    opened: 0,
    open: async () => {
      if (!board.up) throw new PortNotFoundError("/dev/ttyACM-sim");
      tb.opened++;
      const gen = board.generation;
      return new MockTransport(
        clock,
        (w) => {
          if (gen !== board.generation) return undefined; // that tty is gone
          const out = board.receive(w);
          return out.length ? { reply: out } : undefined;
        },
        "/dev/ttyACM-sim",
      );
    },
  };
  return tb;
}
