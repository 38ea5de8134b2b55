// The simulated running Klipper behaves like Klipper's basecmd/spicmds: it
// identifies with the running image's dictionary, takes allocate_oids and
// oid config once per boot (a second config, or config after
// finalize_config, shuts it down until reset), one bus per SPI device, and
// answers spi_transfer with the card's MISO only on the board's wiring.
// reset runs the SD bootloader: firmware.bin on the card is flashed and
// renamed, then the new image answers with its own dictionary.
import { afterAll, describe, expect, it } from "vitest";
import { identify } from "../../../src/klippy-bridge/identify.js";
import { KlipperLink } from "../../../src/klippy-bridge/mcu-link.js";
import { MessageTable } from "../../../src/klippy-bridge/messages.js";
import { FatVolume } from "../../../src/entry/fat/volume.js";
import type { ByteTransport } from "../../../src/transport/byte-transport.js";
import { realClock } from "../../../src/util/clock.js";
import { fatCard, image, NEW, OLD, testBoard } from "../../bootloaders/sdcard-spi/board.js";
import { removeTempDirs } from "../../bootloaders/sdcard-spi/fat-images.js";

afterAll(removeTempDirs);

async function connect(open: () => Promise<ByteTransport>) {
  const link = new KlipperLink(await open());
  const id = await identify(link, { timeoutMs: 2000 });
  const table = new MessageTable(id.dictionary);
  const o = (what: string) => ({ deadline: realClock.now() + 1000, timeoutMs: 1000, what });
  const send = (name: string, params = {}) => link.command(table.encode(name, params), o(name));
  const config = () =>
    link.request(
      table.encode("get_config"),
      (c) => table.decode(c).find((m) => m.name === "config")?.params,
      o("config"),
    );
  const transfer = (data: Uint8Array) =>
    link.request(
      table.encode("spi_transfer", { oid: 0, data }),
      (c) =>
        table.decode(c).find((m) => m.name === "spi_transfer_response")?.params.response as
          Uint8Array | undefined,
      o("spi_transfer_response"),
    );
  return { id, link, table, send, config, transfer };
}

// PA4 = 4, spi1 = 1 in the STM32 build's enumerations (spi-build.ts).
const CONFIG = [
  ["allocate_oids", { count: 1 }],
  ["config_spi", { oid: 0, pin: 4, cs_active_high: 0 }],
  ["spi_set_bus", { oid: 0, spi_bus: 1, mode: 0, rate: 400000 }],
  ["finalize_config", { crc: 42 }],
] as const;

describe("simulated running Klipper with an SD slot", () => {
  it("takes its config once per boot; a second allocate_oids shuts it down until reset", async () => {
    const tb = testBoard("btt-skr-mini-spi");
    const k = await connect(tb.open);
    expect(k.id.dictionary.version).toBe(OLD);
    expect(await k.config()).toMatchObject({ is_config: 0, is_shutdown: 0 });
    for (const [n, p] of CONFIG) await k.send(n, p);
    expect(await k.config()).toMatchObject({ is_config: 1, crc: 42, is_shutdown: 0 });
    await k.send("allocate_oids", { count: 1 });
    expect(await k.config()).toMatchObject({ is_shutdown: 1 });
    expect(tb.board.events).toContainEqual({ type: "shutdown", reason: "oids already allocated" });
  });

  it("a second spi_set_bus on the device is an invalid SPI config (shutdown)", async () => {
    const tb = testBoard("btt-skr-mini-spi");
    const k = await connect(tb.open);
    for (const [n, p] of CONFIG.slice(0, 3)) await k.send(n, p);
    await k.send("spi_set_bus", { oid: 0, spi_bus: 1, mode: 0, rate: 4000000 });
    expect(tb.board.events).toContainEqual({ type: "shutdown", reason: "Invalid spi config" });
  });

  it("spi_transfer reaches the card on the board's bus and chip select only", async () => {
    const tb = testBoard("btt-skr-mini-spi");
    const k = await connect(tb.open);
    await k.send("allocate_oids", { count: 1 });
    await k.send("config_spi", { oid: 0, pin: 5, cs_active_high: 0 }); // PA5: not the slot's CS
    await k.send("spi_set_bus", { oid: 0, spi_bus: 1, mode: 0, rate: 400000 });
    await k.send("finalize_config", { crc: 1 });
    const cmd0 = Uint8Array.of(0x40, 0, 0, 0, 0, 0x95, 0xff, 0xff, 0xff);
    expect([...(await k.transfer(cmd0))]).toEqual(new Array(9).fill(0xff));
    expect(tb.board.card!.events).toEqual([]);

    const tb2 = testBoard("btt-skr-mini-spi");
    const k2 = await connect(tb2.open);
    for (const [n, p] of CONFIG) await k2.send(n, p);
    expect([...(await k2.transfer(cmd0))].slice(6, 8)).toEqual([0xff, 0x01]); // R1 idle
  });

  it("reset runs the SD bootloader: firmware.bin is flashed, renamed FIRMWARE.CUR, and the new build answers", async () => {
    const card = fatCard(16, 16);
    const tb = testBoard("btt-skr-mini-spi", { card });
    const dev = {
      read: async (s: number) => card.image.slice(s * 512, (s + 1) * 512),
      write: async (s: number, d: Uint8Array) => void card.image.set(d, s * 512),
    };
    await (await FatVolume.open(dev)).write("firmware.bin", image(tb.row, NEW));
    const k = await connect(tb.open);
    await k.link.post(k.table.encode("reset"));
    expect(tb.board.up).toBe(false);
    await tb.board.booted;
    const k2 = await connect(tb.open);
    expect(k2.id.dictionary.version).toBe(NEW);
    const names = (await (await FatVolume.open(dev)).list()).map((f) => f.name);
    expect(names).toEqual(["FIRMWARE.CUR"]);
  });

  it("a flash holding no Klipper image stays silent after reset", async () => {
    const card = fatCard(16, 16);
    const tb = testBoard("btt-skr-mini-spi", { card });
    await (
      await FatVolume.open({
        read: async (s) => card.image.slice(s * 512, (s + 1) * 512),
        write: async (s, d) => void card.image.set(d, s * 512),
      })
    ).write("firmware.bin", new Uint8Array(4096).fill(0x5a));
    const k = await connect(tb.open);
    await k.link.post(k.table.encode("reset"));
    await tb.board.booted;
    expect(tb.board.up).toBe(false);
    expect(tb.board.events.at(-1)).toEqual({ type: "boot", app: undefined });
  });
});
