// A board with its SD slot on the MCU's SPI, running Klipper, as a host
// sees it over USB CDC or a UART: Klipper's msgproto (sequence numbers,
// NAK, ACK after the responses), identify from the running image's data
// dictionary, Klipper's config rules (allocate_oids once, no oid config
// after finalize_config: either is a shutdown until `reset`), spi_transfer
// and spi_send reaching the card only when the bus (or software pins) and
// chip select are the board's wiring (else MISO floats high: 0xFF). `reset`
// reboots through the board's SD bootloader: if its file is on the card it
// is copied into flash at the application start and renamed (FIRMWARE.CUR
// or the board's name), then whatever image the flash holds runs — a
// Klipper image answers with its own dictionary, anything else is silent.

import { SdCardModel } from "./card.js";
import { FatVolume } from "../../entry/fat/volume.js";
import { findImageDictionary, type KlipperDictionary } from "../../klippy-bridge/dictionary.js";
import { McuMessageTable, type DecodedMessage } from "../../klippy-bridge/messages.js";
import { BlockReader, encodeBlock } from "../../klippy-bridge/msgproto.js";
import type { Clock } from "../../util/clock.js";

/** A response must fit one 64-byte block: count ≤ 57 − len(VLQ(offset)). */
const MAX_IDENTIFY_DATA = 54;

export interface SdSpiWiring {
  /** Hardware bus name ("spi1", "ssp1"), or absent for software SPI. */
  bus?: string;
  /** Software SPI: MISO, MOSI, SCK. */
  softwarePins?: readonly [string, string, string];
  cs: string;
}

export interface SimSdBootloader {
  /** What the bootloader looks for (case-insensitive; "*.bin": the newest file with that extension). */
  firmwareName: string;
  /** What it renames the file to once flashed; absent: it leaves the file (skip_verify boards). */
  currentName?: string;
}

export interface SimSpiBoardOptions {
  appStart: number;
  /** The application area's size. */
  appSize: number;
  /** The image in flash at power-up. */
  firmware: Uint8Array;
  wiring: SdSpiWiring;
  /** The card in the slot (absent: an empty slot). */
  card?: SdCardModel;
  bootloader: SimSdBootloader;
  clock: Clock;
  /** From reset to the application answering, ms (bootloader and Klipper start). */
  bootMs?: number;
  /** Configured by a previous host at power-up (Klippy ran). */
  configured?: boolean;
}

export type SpiBoardEvent =
  | { type: "command"; name: string }
  | { type: "shutdown"; reason: string }
  | { type: "reset" }
  | { type: "flashed"; bytes: number; name: string }
  | { type: "boot"; app: string | undefined };

export interface SpiOid {
  /** spi_set_bus's rate, or spi_set_sw_bus's pulse_ticks. */
  rate?: number | undefined;
  cs?: string;
  bus?: string;
  softwarePins?: [string, string, string];
}

/** One boot of the Klipper application: its protocol state. */
interface Running {
  dictionary: KlipperDictionary;
  raw: Uint8Array;
  table: McuMessageTable;
  expected: number;
  reader: BlockReader;
  oidCount: number | undefined;
  oids: Map<number, SpiOid>;
  crc: number | undefined;
  shutdown: string | undefined;
}

const upper = (s: string) => s.toUpperCase();

/** The parameters of the commands handled here (each command has its own subset). */
interface Params {
  offset: number;
  count: number;
  oid: number;
  pin: number;
  spi_bus: number;
  miso_pin: number;
  mosi_pin: number;
  sclk_pin: number;
  crc: number;
  mode: number;
  rate?: number;
  pulse_ticks?: number;
  data: Uint8Array;
}

/** Reverse of an enumeration: a value's name (runs like "PA0": [0, 16] included). */
function nameOf(enums: Record<string, unknown> | undefined, kind: string, v: number): string {
  const e = (enums?.[kind] ?? {}) as Record<string, number | [number, number]>;
  for (const [name, val] of Object.entries(e)) {
    if (typeof val === "number" && val === v) return name;
    if (Array.isArray(val) && v >= val[0] && v < val[0] + val[1]) {
      const m = /^(.*?)(\d+)$/.exec(name)!;
      return `${m[1]}${Number(m[2]) + v - val[0]}`;
    }
  }
  return `#${v}`;
}

export class SimSpiKlipperBoard {
  readonly events: SpiBoardEvent[] = [];
  /** The application area's bytes. */
  readonly app: Uint8Array;
  private running: Running | undefined;
  /** Bumped at every reset: output of an older boot is dropped. */
  generation = 0;
  /** Resolves once the board runs again after the last reset. */
  booted: Promise<void> = Promise.resolve();

  constructor(private readonly o: SimSpiBoardOptions) {
    this.app = new Uint8Array(o.appSize).fill(0xff);
    this.app.set(o.firmware);
    this.boot();
    if (o.configured && this.running) {
      this.running.oidCount = 1;
      this.running.crc = 0x1234;
    }
  }

  get card(): SdCardModel | undefined {
    return this.o.card;
  }

  /** Is the application answering (not rebooting, not a dead image)? */
  get up(): boolean {
    return this.running !== undefined;
  }

  /** The SPI devices the running Klipper was configured with (cs, bus or pins, rate). */
  get spiDevices(): readonly Readonly<SpiOid>[] {
    return [...(this.running?.oids.values() ?? [])];
  }

  get dictionary(): KlipperDictionary | undefined {
    return this.running?.dictionary;
  }

  private boot(): void {
    const found = findImageDictionary(this.app);
    this.events.push({ type: "boot", app: found?.dictionary.app });
    if (!found) {
      this.running = undefined;
      return;
    }
    const raw = this.app.slice(found.offset, found.offset + found.length);
    this.running = {
      dictionary: found.dictionary,
      raw,
      table: new McuMessageTable(found.dictionary),
      expected: 0,
      reader: new BlockReader(),
      oidCount: undefined,
      oids: new Map(),
      crc: undefined,
      shutdown: undefined,
    };
  }

  /** Bytes from the host; returns the board's answer (nothing while rebooting). */
  receive(bytes: Uint8Array): Uint8Array {
    const r = this.running;
    if (!r) return new Uint8Array(0);
    const out: number[] = [];
    for (const block of r.reader.push(bytes)) {
      if (block.seq !== r.expected) {
        out.push(...encodeBlock(r.expected, new Uint8Array())); // NAK
        continue;
      }
      r.expected = (r.expected + 1) & 0x0f;
      const responses: Uint8Array[] = [];
      let reset = false;
      for (const m of r.table.decode(block.content)) {
        this.events.push({ type: "command", name: m.name });
        if (m.name === "reset") reset = true;
        else this.handle(r, m, responses);
      }
      if (reset) {
        this.reset();
        break; // the MCU restarts at once: no ACK
      }
      for (const resp of responses) out.push(...encodeBlock(r.expected, resp));
      out.push(...encodeBlock(r.expected, new Uint8Array())); // ACK
    }
    return Uint8Array.from(out);
  }

  private shut(r: Running, reason: string): void {
    r.shutdown ??= reason;
    this.events.push({ type: "shutdown", reason });
  }

  private handle(r: Running, m: DecodedMessage, responses: Uint8Array[]): void {
    const p = m.params as unknown as Params;
    const enums = r.dictionary.enumerations;
    const pin = (v: number) => nameOf(enums, "pin", v);
    const IN_SHUTDOWN = new Set(["identify", "get_config", "get_uptime", "get_clock"]);
    if (r.shutdown && !IN_SHUTDOWN.has(m.name)) {
      responses.push(r.table.encode("is_shutdown", { static_string_id: 2 }));
      return;
    }
    const newOid = (oid: number, v: SpiOid) => {
      if (r.crc !== undefined || r.oidCount === undefined || oid >= r.oidCount || r.oids.has(oid))
        return this.shut(r, "Can't assign oid");
      r.oids.set(oid, v);
    };
    const oidOf = (oid: number): SpiOid | undefined => {
      const s = r.oids.get(oid);
      if (!s) this.shut(r, "Invalid oid type");
      return s;
    };
    switch (m.name) {
      case "identify": {
        const count = p.count;
        if (count > MAX_IDENTIFY_DATA) return;
        const data = r.raw.slice(p.offset, p.offset + count);
        responses.push(r.table.encode("identify_response", { offset: p.offset, data }));
        return;
      }
      case "get_config":
        responses.push(
          r.table.encode("config", {
            is_config: r.crc !== undefined ? 1 : 0,
            crc: r.crc ?? 0,
            is_shutdown: r.shutdown ? 1 : 0,
            move_count: 0,
          }),
        );
        return;
      case "allocate_oids":
        if (r.oidCount !== undefined) return this.shut(r, "oids already allocated");
        r.oidCount = p.count;
        return;
      case "config_spi":
        return newOid(p.oid, { cs: pin(p.pin) });
      case "config_spi_without_cs":
        return newOid(p.oid, {});
      case "spi_set_bus":
      case "spi_set_sw_bus":
      case "spi_set_software_bus": {
        const s = oidOf(p.oid);
        if (!s) return;
        // One bus per SPI device, mode 0–3 (src/spicmds.c).
        if (s.bus !== undefined || s.softwarePins || p.mode > 3)
          return this.shut(r, "Invalid spi config");
        s.rate = p.rate ?? p.pulse_ticks;
        if (m.name === "spi_set_bus") s.bus = nameOf(enums, "spi_bus", p.spi_bus);
        else s.softwarePins = [pin(p.miso_pin), pin(p.mosi_pin), pin(p.sclk_pin)];
        return;
      }
      case "finalize_config":
        r.crc = p.crc;
        return;
      case "spi_transfer":
      case "spi_send": {
        const s = oidOf(p.oid);
        if (!s) return;
        const data = p.data;
        const miso = this.wired(s)
          ? this.o.card!.exchange(data)
          : new Uint8Array(data.length).fill(0xff);
        if (m.name === "spi_transfer")
          responses.push(r.table.encode("spi_transfer_response", { oid: p.oid, response: miso }));
        return;
      }
      default:
        return;
    }
  }

  /** Does this SPI device reach the card (the board's bus or pins, and its chip select)? */
  private wired(s: SpiOid): boolean {
    const w = this.o.wiring;
    if (!this.o.card || s.cs === undefined || upper(s.cs) !== upper(w.cs)) return false;
    if (w.bus !== undefined) return s.bus === w.bus;
    return (
      !!s.softwarePins &&
      !!w.softwarePins &&
      s.softwarePins.every((x, i) => upper(x) === upper(w.softwarePins![i]!))
    );
  }

  /** The MCU restarts: the bootloader runs, then the application. */
  reset(): void {
    this.events.push({ type: "reset" });
    this.running = undefined;
    this.generation++;
    const gen = this.generation;
    this.booted = new Promise((resolve) => {
      this.o.clock.schedule(this.o.bootMs ?? 20, () => {
        void this.runBootloader().then(() => {
          if (gen === this.generation) this.boot();
          resolve();
        });
      });
    });
  }

  private async runBootloader(): Promise<void> {
    const card = this.o.card;
    if (!card) return;
    const dev = {
      read: async (s: number) => card.image.slice(s * 512, (s + 1) * 512),
      write: async (s: number, d: Uint8Array) => void card.image.set(d, s * 512),
    };
    let v: FatVolume;
    try {
      v = await FatVolume.open(dev);
    } catch {
      return; // no FAT: nothing to flash
    }
    const b = this.o.bootloader;
    const f = b.firmwareName.startsWith("*")
      ? (await v.list())
          .filter((x) => x.name.toLowerCase().endsWith(b.firmwareName.slice(1).toLowerCase()))
          .sort((x, y) => (x.name < y.name ? 1 : -1))[0]
      : await v.find(b.firmwareName);
    if (!f) return;
    const bytes = (await v.read(f.name))!;
    this.app.fill(0xff);
    this.app.set(bytes.subarray(0, this.app.length));
    this.events.push({ type: "flashed", bytes: bytes.length, name: f.name });
    if (b.currentName) await v.rename(f.name, b.currentName);
  }
}
