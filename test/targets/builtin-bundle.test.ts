// The bundled CLI serves the device tables from a module generated at build
// time (scripts/checked-tables.mjs) instead of parsing them at every start:
// that module must give exactly what the library's own loading gives, and a
// table that fails its checks must fail the build rather than ship.
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs build script, no types
import { checkedTablesModule } from "../../scripts/checked-tables.mjs";
import { loadMcuFlashes, loadTable } from "../../src/targets/load.js";

const load = { loadTable, loadMcuFlashes };

async function importSource(src: string) {
  return (await import(`data:text/javascript;base64,${Buffer.from(src).toString("base64")}`)) as {
    builtinTable: () => ReturnType<typeof loadTable>;
    builtinMcuFlashes: () => ReturnType<typeof loadMcuFlashes>;
  };
}

describe("the build's checked tables", () => {
  it("serve the rows, chips, applications and MCU flashes loadTable/loadMcuFlashes give", async () => {
    const m = await importSource(checkedTablesModule(load) as string);
    const built = m.builtinTable();
    const direct = loadTable();
    expect(built.targets.length).toBeGreaterThan(50);
    expect(built.targets).toEqual(direct.targets);
    expect([...built.chips]).toEqual([...direct.chips]);
    expect([...built.applications]).toEqual([...direct.applications]);
    expect([...m.builtinMcuFlashes()]).toEqual([...loadMcuFlashes()]);
  });

  it("refuse a table that fails its checks (the build stops)", () => {
    const broken = {
      loadTable: () => loadTable({ applications: {}, chips: {}, targets: [{ id: "x" }] }),
      loadMcuFlashes,
    };
    expect(() => checkedTablesModule(broken)).toThrow(/target table: x:/);
  });
});
