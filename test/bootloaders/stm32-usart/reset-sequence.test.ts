// Boards whose BOOT0 and RESET are wired to the adapter's DTR/RTS (what
// stm32flash's -i drives): the entry sequence resets the chip into the ROM
// with nobody at the board, a verified flash ends with the exit sequence
// (reset with BOOT0 low: the firmware starts from flash, no GO), a refusal
// with nothing written sends the board back to its application, and a
// failed verify never runs the exit sequence (that reset would start the
// partial image).
import { flashFailure } from "../../fakes/flash-failure.js";
import { describe, expect, it } from "vitest";
import { Stm32UsartAdapter } from "../../../src/bootloaders/stm32-usart/adapter.js";
import { Stm32NoAnswerError } from "../../../src/bootloaders/stm32-usart/errors.js";
import { LineSequenceRefusedError } from "../../../src/flash-api/errors.js";
import type { FlashEvent } from "../../../src/flash-api/progress.js";
import { VerifyMismatchError } from "../../../src/flasher/errors.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { RTS_BOOT0_DTR_RESET, stm32RomPair } from "../../../src/sim/stm32/index.js";
import { parseLineSequence } from "../../../src/transport/line-sequence.js";
import { VirtualClock } from "../../../src/util/clock.js";
import { armImage } from "./images.js";

const BASE = 0x08000000;
/** RTS holds BOOT0 high while DTR pulses RESET; the exit does the same with BOOT0 low. */
const SEQ = "-dtr&rts,dtr,-rts:-dtr&-rts,dtr";

function board(seq: string, o: { wired?: boolean; onEvent?: (e: FlashEvent) => void } = {}) {
  const clock = new VirtualClock();
  const { host, rom } = stm32RomPair({
    clock,
    preset: "f103",
    boot0: false, // the application runs when canflash arrives
    ...(o.wired === false ? {} : { wiring: RTS_BOOT0_DTR_RESET }),
  });
  const adapter = new Stm32UsartAdapter({
    port: "/dev/ttyUSB0",
    line: { baud: 57600, frameBits: 11 },
    mode: "8e1",
    target: { id: "stm32f103-rom-serial", chip: "stm32f103" },
    open: () => Promise.resolve(host),
    lines: parseLineSequence(seq),
    quickSyncMs: 300,
    entryWaitMs: 2000,
  });
  const events: FlashEvent[] = [];
  const flash = (data: Uint8Array, address = BASE) =>
    clock.run(
      runFlash(
        adapter,
        { segments: [{ address, data }] },
        {
          clock,
          onEvent: (e) => {
            events.push(e);
            o.onEvent?.(e);
          },
        },
      ),
    );
  const resets = () =>
    rom.events.filter((e) => e.type === "reset").map((e) => (e as { into: string }).into);
  return { rom, flash, events, resets };
}

describe("--reset-sequence on a board wired to DTR/RTS", () => {
  it("entry resets into the ROM, the image is written and verified, the exit sequence restarts it from flash (no GO)", async () => {
    const b = board(SEQ);
    const img = armImage({ size: 3000, linkedAt: BASE });
    const r = await b.flash(img);
    expect(r.verified).toBe(true);
    expect(b.rom.flash().subarray(0, img.length)).toEqual(img);
    // power-on into the app, the entry's reset into the ROM, the exit's into the app
    expect(b.resets()).toEqual(["app", "rom", "app"]);
    expect(b.rom.mode).toBe("app");
    expect(b.rom.count("go")).toBe(0);
    const said = b.events.filter((e) => e.type === "info").map((e) => e.message);
    expect(said).toContain(`ran the DTR/RTS entry sequence ${SEQ} (BOOT0 high, then reset)`);
    expect(said.some((m) => /exit sequence .*restarts from flash/.test(m))).toBe(true);
  });

  it("without an exit part: GO starts the firmware, as stm32flash -g 0", async () => {
    const b = board("-dtr&rts,dtr,-rts");
    const r = await b.flash(armImage({ size: 1024, linkedAt: BASE }));
    expect(r.verified).toBe(true);
    expect(b.rom.count("go")).toBe(1);
  });

  it("a sequence that does not match the wiring never reaches the ROM: no answer, nothing written, no prompt skipped", async () => {
    const b = board("dtr&-rts,-dtr,dtr"); // pulses RESET with BOOT0 low: the application restarts
    const e = await flashFailure(b.flash(armImage({ size: 1024, linkedAt: BASE })));
    expect(e.phase).toBe("enter");
    expect(e.cause).toBeInstanceOf(Stm32NoAnswerError);
    expect(e.deviceState).toBe("untouched");
    expect(b.rom.count("write")).toBe(0);
  });

  it("refused after entry with nothing written (image linked for Katapult's offset, no bootloader below): the exit sequence sends it back to its application", async () => {
    const b = board(SEQ);
    const e = await flashFailure(
      b.flash(armImage({ size: 1024, linkedAt: BASE + 0x2000 }), BASE + 0x2000),
    );
    expect(e.deviceState).toBe("untouched");
    expect(e.returnedToApplication).toBe(true);
    expect(b.rom.count("write")).toBe(0);
    expect(b.rom.count("erase")).toBe(0);
    expect(b.resets()).toEqual(["app", "rom", "app"]);
  });

  it("a failed verify never runs the exit sequence: the board stays in the ROM", async () => {
    const b = board(SEQ, {
      onEvent: (e) => {
        if (e.type === "phase-start" && e.phase === "verify") b.rom.memory.flash[100]! ^= 0x01;
      },
    });
    const e = await flashFailure(b.flash(armImage({ size: 1024, linkedAt: BASE })));
    expect(e.cause).toBeInstanceOf(VerifyMismatchError);
    expect(e.deviceState).toBe("in-bootloader");
    expect(b.resets()).toEqual(["app", "rom"]);
    expect(b.rom.mode).toBe("rom");
    expect(b.rom.count("go")).toBe(0);
  });

  it("a port without modem lines refuses the sequence before any byte is sent", async () => {
    const b = board(SEQ, { wired: false });
    const e = await flashFailure(b.flash(armImage({ size: 1024, linkedAt: BASE })));
    expect(e.cause).toBeInstanceOf(LineSequenceRefusedError);
    expect(e.deviceState).toBe("untouched");
    expect(b.rom.count("sync")).toBe(0);
  });
});
