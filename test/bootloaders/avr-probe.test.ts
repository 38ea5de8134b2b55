// The wrong-target diagnosis: when the target's bootloader stays silent,
// canflash tries the table's other AVR bootloaders and names what answered.
// Against the bootloader models on virtual time; the real bootloaders in
// simavr are probed in test/avr.
import { describe, expect, it } from "vitest";
import { AvrNoAnswerError, AvrWrongTargetError } from "../../src/bootloaders/avr/errors.js";
import { findAvrPart } from "../../src/bootloaders/avr/parts.js";
import { avrAdapterFor } from "../../src/bootloaders/avr/adapter-for.js";
import { avrLinkKinds, describeLink } from "../../src/bootloaders/avr/probe.js";
import { FlashError } from "../../src/flasher/errors.js";
import { runFlash } from "../../src/flasher/execute.js";
import { findTarget } from "../../src/targets/index.js";
import { Stk500v1Boot } from "../../src/sim/avr/stk500v1-boot.js";
import { Stk500v2Boot } from "../../src/sim/avr/stk500v2-boot.js";
import { SimUartPair } from "../../src/sim/avr/uart-pair.js";
import { VirtualClock } from "../../src/util/clock.js";

const image = { segments: [{ address: 0, data: new Uint8Array(600).fill(0x5a) }] };

describe("AVR bootloader kinds", () => {
  it("are the table's distinct protocol/baud pairs, the failed one left out", () => {
    const all = avrLinkKinds().map((k) => describeLink(k.kind));
    expect(all).toEqual([
      "STK500v2 at 115200 baud",
      "STK500v1 at 57600 baud",
      "STK500v1 at 115200 baud",
    ]);
    expect(
      avrLinkKinds({ protocol: "stk500v1", baud: 57600 }).map((k) => describeLink(k.kind)),
    ).toEqual(["STK500v2 at 115200 baud", "STK500v1 at 115200 baud"]);
  });
});

describe("a silent target bootloader", () => {
  it("the atmega1280 preset on a Mega 2560: refused, naming the chip and the target that fits", async () => {
    const clock = new VirtualClock();
    const uart = new SimUartPair(clock, { baud: 115200 });
    const boot = new Stk500v2Boot(uart.device, {
      part: findAvrPart("atmega2560")!,
      bootStart: 0x3e000,
      clock,
    });
    uart.onReset(() => boot.reset());
    let opens = 0;
    const adapter = avrAdapterFor(findTarget("avr-m1280-arduino"), {
      device: "/dev/ttyACM0",
      open: () => {
        opens++;
        return Promise.resolve(uart.host);
      },
    });
    const e = await clock.run(runFlash(adapter, image, { clock })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FlashError);
    expect((e as FlashError).deviceState).toBe("untouched");
    const cause = (e as FlashError).cause as AvrWrongTargetError;
    expect(cause).toBeInstanceOf(AvrWrongTargetError);
    expect(cause.message).toBe(
      "no bootloader answered STK500v1 at 57600 baud on /dev/ttyACM0 (target avr-m1280-arduino), " +
        "but one answered STK500v2 at 115200 baud, with signature 1e 98 01 (atmega2560): " +
        "the board is not what target avr-m1280-arduino describes; nothing was written",
    );
    expect(cause.suggestedTargets).toEqual(["avr-m2560-wiring"]);
    expect(opens).toBe(2); // the target's own link, then the STK500v2 probe
    expect(boot.events.some((x) => x.type === "page")).toBe(false);
  });

  it("nothing on the port at all: no answer, listing every bootloader tried", async () => {
    const clock = new VirtualClock();
    const uart = new SimUartPair(clock, { baud: 115200 });
    // A board without a bootloader: resets, never answers.
    const adapter = avrAdapterFor(findTarget("avr-m328p-optiboot"), {
      device: "/dev/ttyUSB0",
      open: () => Promise.resolve(uart.host),
    });
    const e = await clock.run(runFlash(adapter, image, { clock })).catch((x: unknown) => x);
    const cause = (e as FlashError).cause as AvrNoAnswerError;
    expect(cause).toBeInstanceOf(AvrNoAnswerError);
    expect(cause.alsoTried).toEqual(["STK500v2 at 115200 baud", "STK500v1 at 57600 baud"]);
    expect(cause.message).toMatch(
      /^no answer from the Optiboot bootloader on \/dev\/ttyUSB0 at 115200 baud .*listens only about 1\.4 s after a reset.*; nothing answered STK500v2 at 115200 baud or STK500v1 at 57600 baud either$/,
    );
  });

  it("probing can be turned off: the plain no-answer error, one link opened", async () => {
    const clock = new VirtualClock();
    const uart = new SimUartPair(clock, { baud: 57600 });
    let opens = 0;
    const adapter = avrAdapterFor(findTarget("avr-m1280-arduino"), {
      device: "/dev/ttyUSB0",
      probeOthers: false,
      open: () => {
        opens++;
        return Promise.resolve(uart.host);
      },
    });
    const e = await clock.run(runFlash(adapter, image, { clock })).catch((x: unknown) => x);
    expect((e as FlashError).cause).toBeInstanceOf(AvrNoAnswerError);
    expect(((e as FlashError).cause as AvrNoAnswerError).alsoTried).toEqual([]);
    expect(opens).toBe(1);
  });

  it("a board that answers its own target is flashed without probing", async () => {
    const clock = new VirtualClock();
    const uart = new SimUartPair(clock, { baud: 57600 });
    const boot = new Stk500v1Boot(uart.device, {
      flavour: "atmegaboot",
      part: findAvrPart("atmega1280")!,
      bootStart: 0x1f000,
      clock,
    });
    uart.onReset(() => boot.reset());
    const adapter = avrAdapterFor(findTarget("avr-m1280-arduino"), {
      device: "/dev/ttyUSB0",
      open: () => Promise.resolve(uart.host),
    });
    const events: string[] = [];
    const r = await clock.run(
      runFlash(adapter, image, { clock, onEvent: (ev) => events.push(JSON.stringify(ev)) }),
    );
    expect(r.verified).toBe(true);
    expect(events.join("\n")).not.toMatch(/probing/);
    expect(boot.flash.subarray(0, 600).every((x) => x === 0x5a)).toBe(true);
  });
});
