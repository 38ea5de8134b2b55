// -v: debug logs on stderr, from the bundled binary (pino is loaded only then).
import { describe, expect, it } from "vitest";
import { canflash } from "./helpers.js";

describe("canflash -v", () => {
  it("a query on the demo bus logs pino's debug lines to stderr and still lists the nodes", async () => {
    const r = await canflash(["-v", "-i", "sim", "-q"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Detected UUID: 8266c4636429/);
    const lines = r.stderr.trim().split("\n");
    const logs = lines.filter((l) => l.startsWith("{"));
    expect(logs.length).toBeGreaterThan(0);
    expect(JSON.parse(logs[0]!)).toMatchObject({ level: 20 });
    expect(r.stderr).not.toMatch(/TypeError|Cannot read properties/);
  });
});
