// Hostile input for the Klipper-side parsers, seeded so a failure names its
// case: block reassembly from damaged streams, parameter decoding of random
// content, data dictionaries that are corrupt, truncated or absurdly large,
// dictionaries hidden in random images, and an MCU that answers identify
// with garbage. Nothing may crash with anything but the module's typed
// error, hang, or grow without bound.
import { deflateSync, inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  DictionaryError,
  findImageDictionary,
  parseDictionary,
  MAX_DICTIONARY_BYTES,
} from "../../src/klippy-bridge/dictionary.js";
import { identify, IdentifyError } from "../../src/klippy-bridge/identify.js";
import {
  BlockReader,
  decodeParams,
  encodeBlock,
  MESSAGE_MAX,
  MsgprotoError,
  parseFormat,
} from "../../src/klippy-bridge/msgproto.js";
import { klipperDictionaryZlib } from "../../src/sim/klipper-image.js";
import { MockTransport } from "../../src/transport/mock.js";
import { VirtualClock } from "../../src/util/clock.js";
import { randomBytes, seededRandom, type Random } from "../../src/util/random.js";

const CASES = 10_000;
const int = (rnd: Random, n: number) => Math.floor(rnd() * n);

/** A random valid block. */
function block(rnd: Random): Uint8Array {
  const content = randomBytes(int(rnd, MESSAGE_MAX - 5 + 1), int(rnd, 1e9));
  return encodeBlock(int(rnd, 16), content);
}

/** Damages bytes: flips, drops, inserts, truncates, splices garbage. */
function damage(bytes: Uint8Array, rnd: Random): Uint8Array {
  const out = [...bytes];
  const edits = 1 + int(rnd, 4);
  for (let e = 0; e < edits && out.length > 0; e++) {
    const at = int(rnd, out.length);
    switch (int(rnd, 5)) {
      case 0:
        out[at] = out[at]! ^ (1 << int(rnd, 8));
        break;
      case 1:
        out.splice(at, 1 + int(rnd, 8));
        break;
      case 2:
        out.splice(at, 0, ...randomBytes(1 + int(rnd, 20), int(rnd, 1e9)));
        break;
      case 3:
        out.length = at;
        break;
      default:
        out.splice(at, 0, int(rnd, 2) ? 0x7e : int(rnd, 256), 0xff, MESSAGE_MAX + int(rnd, 190));
    }
  }
  return Uint8Array.from(out);
}

function chunks(bytes: Uint8Array, rnd: Random): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = 1 + int(rnd, 40);
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe(`randomized robustness (${CASES} seeded cases each)`, () => {
  it("BlockReader: undamaged streams come back block for block; damaged ones yield only real blocks", () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const rnd = seededRandom(seed);
      const sent = Array.from({ length: 1 + int(rnd, 6) }, () => block(rnd));
      const stream = Uint8Array.from(sent.flatMap((b) => [...b]));
      const damaged = int(rnd, 3) > 0;
      const input = damaged ? damage(stream, rnd) : stream;
      const reader = new BlockReader();
      const got: string[] = [];
      try {
        for (const c of chunks(input, rnd))
          for (const b of reader.push(c)) got.push(hex(encodeBlock(b.seq, b.content)));
      } catch (e) {
        throw new Error(`seed ${seed}: ${String(e)}`);
      }
      if (!damaged) expect(got, `seed ${seed}`).toEqual(sent.map(hex));
      // Every block it reports was in the input, byte for byte (CRC-checked, never invented).
      const inputHex = hex(input);
      for (const g of got) expect(inputHex.includes(g), `seed ${seed}: invented ${g}`).toBe(true);
      // The damage is bounded: all whole blocks after the last damaged byte still arrive.
      expect(
        reader.push(stream).map((b) => hex(encodeBlock(b.seq, b.content))).length,
        `seed ${seed}`,
      ).toBeGreaterThanOrEqual(sent.length - 1);
    }
  });

  it("decodeParams: random content against real formats returns or throws MsgprotoError", () => {
    const formats = [
      "identify_response offset=%u data=%.*s",
      "canbus_id canbus_uuid=%.*s canbus_nodeid=%u",
      "config is_config=%c crc=%u is_shutdown=%c move_count=%hu",
      "stats count=%u sum=%u sumsq=%u",
      "shutdown clock=%u static_string_id=%hu",
      "debug_result val=%i str=%s buf=%*s",
    ].map(parseFormat);
    for (let seed = 1; seed <= CASES; seed++) {
      const rnd = seededRandom(seed);
      const content = randomBytes(int(rnd, 70), seed);
      const f = formats[seed % formats.length]!;
      try {
        const r = decodeParams(content, int(rnd, 3), f);
        expect(r.next).toBeLessThanOrEqual(content.length);
        for (const p of f.params) expect(r.params[p.name], `seed ${seed}`).toBeDefined();
      } catch (e) {
        if (!(e instanceof MsgprotoError)) throw new Error(`seed ${seed}: ${String(e)}`);
      }
    }
  });

  it("parseDictionary: damaged, truncated and random dictionaries throw DictionaryError or parse", () => {
    const good = klipperDictionaryZlib({ mcu: "stm32g0b1xx", transport: "can" });
    const json = Buffer.from(parseDictionaryJson(good));
    let parsed = 0;
    for (let seed = 1; seed <= CASES; seed++) {
      const rnd = seededRandom(seed);
      const kind = seed % 4;
      const input =
        kind === 0
          ? damage(good, rnd)
          : kind === 1
            ? good.subarray(0, int(rnd, good.length))
            : kind === 2
              ? new Uint8Array(deflateSync(damage(json, rnd)))
              : randomBytes(int(rnd, 300), seed);
      try {
        const d = parseDictionary(input);
        parsed++;
        expect(typeof d.app).toBe("string");
      } catch (e) {
        if (!(e instanceof DictionaryError)) throw new Error(`seed ${seed}: ${String(e)}`);
      }
    }
    expect(parsed).toBeLessThan(CASES); // the corpus really is hostile
  });

  it("parseDictionary: a zlib bomb stops at the size limit", () => {
    const bomb = new Uint8Array(deflateSync(Buffer.alloc(MAX_DICTIONARY_BYTES * 2, 0x20)));
    expect(() => parseDictionary(bomb)).toThrow(DictionaryError);
  });

  it("findImageDictionary: random images with damaged dictionaries inside never throw", () => {
    const good = klipperDictionaryZlib({ mcu: "rp2040", transport: "usb" });
    let found = 0;
    for (let seed = 1; seed <= CASES; seed++) {
      const rnd = seededRandom(seed);
      const img = randomBytes(512 + int(rnd, 2048), seed);
      const dict = seed % 3 === 0 ? good : damage(good, rnd);
      const at = int(rnd, img.length);
      const whole = new Uint8Array(img.length + dict.length);
      whole.set(img.subarray(0, at));
      whole.set(dict, at);
      whole.set(img.subarray(at), at + dict.length);
      // Sprinkle zlib headers that lead nowhere (outside the dictionary).
      for (let k = 0; k < 3; k++) {
        const p = int(rnd, whole.length - 1);
        if (p + 1 < at || p >= at + dict.length) whole.set([0x78, 0xda], p);
      }
      let r;
      try {
        r = findImageDictionary(whole);
      } catch (e) {
        throw new Error(`seed ${seed}: ${String(e)}`);
      }
      if (r) {
        found++;
        expect(r.dictionary.app, `seed ${seed}`).toBe("Klipper");
      }
      if (seed % 3 === 0) expect(r, `seed ${seed}: intact dictionary not found`).toBeDefined();
    }
    expect(found).toBeGreaterThanOrEqual(Math.floor(CASES / 3));
  });

  it("identify against an MCU that answers with garbage ends in IdentifyError at its deadline", async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = seededRandom(seed);
      const clock = new VirtualClock();
      const t = new MockTransport(clock, () => {
        // Garbage, damaged blocks, absurd length bytes — sometimes a valid empty (ACK-like) block.
        const parts = [damage(block(rnd), rnd), randomBytes(int(rnd, 30), int(rnd, 1e9))];
        if (int(rnd, 4) === 0) parts.push(encodeBlock(int(rnd, 16), new Uint8Array()));
        // A round trip takes time on any real link.
        return { reply: Uint8Array.from(parts.flatMap((p) => [...p])), delayMs: 0.5 };
      });
      const t0 = clock.now();
      const e = await clock.run(identify(t, { timeoutMs: 2000 })).catch((x: unknown) => x);
      expect(e, `seed ${seed}`).toBeInstanceOf(IdentifyError);
      expect(clock.now() - t0, `seed ${seed}`).toBeLessThanOrEqual(2000 + 300);
    }
  });
});

/** The JSON text inside a compressed dictionary (to damage it before compressing). */
function parseDictionaryJson(zlib: Uint8Array): string {
  return inflateSync(zlib).toString("utf8");
}
