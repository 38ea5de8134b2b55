// Library logging: silent (and pino not needed) until a root logger is
// installed; then every module's logger writes through it with its name.
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { moduleLogger, setRootLogger } from "../../src/util/log.js";

describe("moduleLogger", () => {
  it("logs nothing before a root is installed, then writes through the root with the module's name", () => {
    const log = moduleLogger("test.mod");
    expect(log.enabled("error")).toBe(false);
    log.error("before"); // no root: dropped, no throw
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    setRootLogger(pino({ level: "debug" }, sink));
    expect(log.enabled("debug")).toBe(true);
    expect(log.enabled("trace")).toBe(false);
    log.debug({ n: 1 }, "after");
    log.trace("too low");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ module: "test.mod", n: 1, msg: "after" });
  });
});
