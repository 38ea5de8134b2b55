// The pure planner: exact blocks (address, padded bytes, payload) for images
// and geometries, and the errors for images that cannot be planned.
import { describe, expect, it } from "vitest";
import type { FlashGeometry, FlashPlan, PlanInput } from "../../src/flash-api/geometry.js";
import {
  BadGeometryError,
  EmptyPlanError,
  ImageBelowStartError,
  ImageDoesNotFitError,
  planFlash,
} from "../../src/flasher/plan.js";
import { CanflashError } from "../../src/util/errors.js";

const START = 0x1000;
const BS = 8;

const geo = (o: Partial<FlashGeometry> = {}): FlashGeometry => ({
  start: START,
  blockSize: BS,
  padByte: 0xff,
  addressUnit: "byte",
  ...o,
});

/** `n` bytes counting up from `first` (distinct from both pad bytes for small n). */
const seq = (n: number, first = 1): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (first + i) & 0xff);

const img = (...segments: [number, Uint8Array][]): PlanInput => ({
  segments: segments.map(([address, data]) => ({ address, data })),
});

interface ExpectedBlock {
  address: number;
  data: number[];
  payload: number;
}

interface ExpectedPlan {
  blocks: ExpectedBlock[];
  imageBytes: number;
  start: number;
  end: number;
}

const F = 0xff;

function shape(plan: FlashPlan): ExpectedPlan {
  return {
    blocks: plan.blocks.map((b) => ({ address: b.address, data: [...b.data], payload: b.payload })),
    imageBytes: plan.imageBytes,
    start: plan.start,
    end: plan.end,
  };
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to throw");
}

interface Case {
  name: string;
  geometry: FlashGeometry;
  image: PlanInput;
  expected: ExpectedPlan;
}

const cases: Case[] = [
  {
    name: "a .bin at start filling whole blocks",
    geometry: geo(),
    image: img([START, seq(16)]),
    expected: {
      blocks: [
        { address: 0x1000, data: [1, 2, 3, 4, 5, 6, 7, 8], payload: 8 },
        { address: 0x1008, data: [9, 10, 11, 12, 13, 14, 15, 16], payload: 8 },
      ],
      imageBytes: 16,
      start: 0x1000,
      end: 0x1010,
    },
  },
  {
    name: "a .bin whose last block is partial, padded with 0xFF",
    geometry: geo({ padByte: 0xff }),
    image: img([START, seq(10)]),
    expected: {
      blocks: [
        { address: 0x1000, data: [1, 2, 3, 4, 5, 6, 7, 8], payload: 8 },
        { address: 0x1008, data: [9, 10, F, F, F, F, F, F], payload: 2 },
      ],
      imageBytes: 10,
      start: 0x1000,
      end: 0x1010,
    },
  },
  {
    name: "a .bin whose last block is partial, padded with 0x00",
    geometry: geo({ padByte: 0x00 }),
    image: img([START, seq(11)]),
    expected: {
      blocks: [
        { address: 0x1000, data: [1, 2, 3, 4, 5, 6, 7, 8], payload: 8 },
        { address: 0x1008, data: [9, 10, 11, 0, 0, 0, 0, 0], payload: 3 },
      ],
      imageBytes: 11,
      start: 0x1000,
      end: 0x1010,
    },
  },
  {
    name: "a single byte makes one padded block",
    geometry: geo(),
    image: img([START, Uint8Array.of(0x42)]),
    expected: {
      blocks: [{ address: 0x1000, data: [0x42, F, F, F, F, F, F, F], payload: 1 }],
      imageBytes: 1,
      start: 0x1000,
      end: 0x1008,
    },
  },
  {
    name: "segments with a gap of whole blocks: blocks only where data is",
    geometry: geo(),
    image: img([0x1000, seq(3, 0x10)], [0x1020, seq(2, 0x20)]),
    expected: {
      blocks: [
        { address: 0x1000, data: [0x10, 0x11, 0x12, F, F, F, F, F], payload: 3 },
        { address: 0x1020, data: [0x20, 0x21, F, F, F, F, F, F], payload: 2 },
      ],
      imageBytes: 5,
      start: 0x1000,
      end: 0x1028,
    },
  },
  {
    name: "a segment that does not start at start: no blocks before it",
    geometry: geo(),
    image: img([0x1012, seq(4, 0x30)]),
    expected: {
      blocks: [{ address: 0x1010, data: [F, F, 0x30, 0x31, 0x32, 0x33, F, F], payload: 4 }],
      imageBytes: 4,
      start: 0x1010,
      end: 0x1018,
    },
  },
  {
    name: "a gap inside one block is padded",
    geometry: geo({ padByte: 0x00 }),
    image: img([0x1000, Uint8Array.of(1, 2)], [0x1005, Uint8Array.of(3, 4)]),
    expected: {
      blocks: [{ address: 0x1000, data: [1, 2, 0, 0, 0, 3, 4, 0], payload: 4 }],
      imageBytes: 4,
      start: 0x1000,
      end: 0x1008,
    },
  },
  {
    name: "segments out of order give blocks in address order",
    geometry: geo(),
    image: img([0x1018, seq(8, 0x50)], [0x1000, seq(4, 0x40)], [0x1008, seq(2, 0x60)]),
    expected: {
      blocks: [
        { address: 0x1000, data: [0x40, 0x41, 0x42, 0x43, F, F, F, F], payload: 4 },
        { address: 0x1008, data: [0x60, 0x61, F, F, F, F, F, F], payload: 2 },
        {
          address: 0x1018,
          data: [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
          payload: 8,
        },
      ],
      imageBytes: 14,
      start: 0x1000,
      end: 0x1020,
    },
  },
  {
    name: "two segments share one block; the second also spills into the next",
    geometry: geo(),
    image: img([0x1000, Uint8Array.of(1, 2)], [0x1006, Uint8Array.of(0xa, 0xb, 0xc, 0xd)]),
    expected: {
      blocks: [
        { address: 0x1000, data: [1, 2, F, F, F, F, 0xa, 0xb], payload: 4 },
        { address: 0x1008, data: [0xc, 0xd, F, F, F, F, F, F], payload: 2 },
      ],
      imageBytes: 6,
      start: 0x1000,
      end: 0x1010,
    },
  },
  {
    name: "contiguousFromStart writes every block from start to the image end",
    geometry: geo({ contiguousFromStart: true }),
    image: img([0x1010, seq(3)]),
    expected: {
      blocks: [
        { address: 0x1000, data: [F, F, F, F, F, F, F, F], payload: 0 },
        { address: 0x1008, data: [F, F, F, F, F, F, F, F], payload: 0 },
        { address: 0x1010, data: [1, 2, 3, F, F, F, F, F], payload: 3 },
      ],
      imageBytes: 3,
      start: 0x1000,
      end: 0x1018,
    },
  },
  {
    name: "contiguousFromStart fills a gap between segments with pad blocks",
    geometry: geo({ contiguousFromStart: true, padByte: 0x00 }),
    image: img([0x1000, seq(2)], [0x1018, seq(2, 9)]),
    expected: {
      blocks: [
        { address: 0x1000, data: [1, 2, 0, 0, 0, 0, 0, 0], payload: 2 },
        { address: 0x1008, data: [0, 0, 0, 0, 0, 0, 0, 0], payload: 0 },
        { address: 0x1010, data: [0, 0, 0, 0, 0, 0, 0, 0], payload: 0 },
        { address: 0x1018, data: [9, 10, 0, 0, 0, 0, 0, 0], payload: 2 },
      ],
      imageBytes: 4,
      start: 0x1000,
      end: 0x1020,
    },
  },
  {
    name: "geometry.start not a multiple of blockSize: blocks laid out from start",
    geometry: geo({ start: 0x1003 }),
    image: img([0x1005, seq(12)]),
    expected: {
      blocks: [
        { address: 0x1003, data: [F, F, 1, 2, 3, 4, 5, 6], payload: 6 },
        { address: 0x100b, data: [7, 8, 9, 10, 11, 12, F, F], payload: 6 },
      ],
      imageBytes: 12,
      start: 0x1003,
      end: 0x1013,
    },
  },
  {
    name: "unaligned start with contiguousFromStart",
    geometry: geo({ start: 0x1003, contiguousFromStart: true }),
    image: img([0x100c, seq(2)]),
    expected: {
      blocks: [
        { address: 0x1003, data: [F, F, F, F, F, F, F, F], payload: 0 },
        { address: 0x100b, data: [F, 1, 2, F, F, F, F, F], payload: 2 },
      ],
      imageBytes: 2,
      start: 0x1003,
      end: 0x1013,
    },
  },
  {
    name: "empty segments next to data are ignored",
    geometry: geo(),
    image: img([0x0800, new Uint8Array(0)], [0x1000, seq(3)], [0x9000, new Uint8Array(0)]),
    expected: {
      blocks: [{ address: 0x1000, data: [1, 2, 3, F, F, F, F, F], payload: 3 }],
      imageBytes: 3,
      start: 0x1000,
      end: 0x1008,
    },
  },
  {
    name: "an image ending exactly at geometry.end fits",
    geometry: geo({ end: 0x1020 }),
    image: img([0x1018, seq(8)]),
    expected: {
      blocks: [{ address: 0x1018, data: [1, 2, 3, 4, 5, 6, 7, 8], payload: 8 }],
      imageBytes: 8,
      start: 0x1018,
      end: 0x1020,
    },
  },
  {
    name: "a partial last block ending exactly at geometry.end fits",
    geometry: geo({ end: 0x1010 }),
    image: img([0x1008, seq(5)]),
    expected: {
      blocks: [{ address: 0x1008, data: [1, 2, 3, 4, 5, F, F, F], payload: 5 }],
      imageBytes: 5,
      start: 0x1008,
      end: 0x1010,
    },
  },
];

describe("planFlash: blocks", () => {
  it.each(cases)("$name", ({ geometry, image, expected }) => {
    const plan = planFlash(image, geometry);
    expect(shape(plan)).toEqual(expected);
    expect(plan.geometry).toBe(geometry);
    for (const b of plan.blocks) expect(b.data.length).toBe(geometry.blockSize);
  });

  it("a larger block size keeps a whole image in one block", () => {
    const plan = planFlash(img([0x2000, seq(100)]), geo({ start: 0x2000, blockSize: 256 }));
    expect(plan.blocks).toHaveLength(1);
    expect([...plan.blocks[0]!.data.subarray(0, 100)]).toEqual([...seq(100)]);
    expect([...plan.blocks[0]!.data.subarray(100)]).toEqual(new Array(156).fill(0xff));
    expect(plan.blocks[0]!.payload).toBe(100);
    expect(plan).toMatchObject({ imageBytes: 100, start: 0x2000, end: 0x2100 });
  });
});

describe("planFlash: errors", () => {
  it.each([
    { name: "no segments", image: { segments: [] } },
    { name: "only empty segments", image: img([0x1000, new Uint8Array(0)], [0x2000, seq(0)]) },
  ])("$name -> EmptyPlanError", ({ image }) => {
    const e = thrown(() => planFlash(image, geo()));
    expect(e).toBeInstanceOf(EmptyPlanError);
    expect(e).toBeInstanceOf(CanflashError);
    expect(e).toMatchObject({ code: "IMAGE_EMPTY", name: "EmptyPlanError" });
  });

  it.each([
    { name: "one segment below start", image: img([0x0ff8, seq(16)]), imageStart: 0x0ff8 },
    {
      name: "a later segment below start",
      image: img([0x1000, seq(8)], [0x0ffc, seq(2)]),
      imageStart: 0x0ffc,
    },
  ])("$name -> ImageBelowStartError", ({ image, imageStart }) => {
    const e = thrown(() => planFlash(image, geo()));
    expect(e).toBeInstanceOf(ImageBelowStartError);
    expect(e).toMatchObject({ code: "IMAGE_BELOW_APP_START", imageStart, start: START });
    expect((e as Error).message).toContain(`0x${imageStart.toString(16)}`);
    expect((e as Error).message).toContain("0x1000");
  });

  it("an image past geometry.end -> ImageDoesNotFitError naming bytes too many and available", () => {
    const e = thrown(() => planFlash(img([START, seq(0x24)]), geo({ end: 0x1020 })));
    expect(e).toBeInstanceOf(ImageDoesNotFitError);
    expect(e).toMatchObject({
      code: "IMAGE_DOES_NOT_FIT",
      imageEnd: 0x1024,
      end: 0x1020,
      start: START,
    });
    expect((e as Error).message).toContain("4 bytes too many");
    expect((e as Error).message).toContain("32 bytes available");
    expect((e as Error).message).toContain("0x1024");
  });

  it("an image one byte past geometry.end does not fit", () => {
    const e = thrown(() => planFlash(img([0x1018, seq(9)]), geo({ end: 0x1020 })));
    expect(e).toBeInstanceOf(ImageDoesNotFitError);
    expect(e).toMatchObject({ imageEnd: 0x1021, end: 0x1020, start: START });
    expect((e as Error).message).toContain("1 bytes too many");
  });

  it("data that fits but whose last block runs past geometry.end -> ImageDoesNotFitError", () => {
    // end 0x101c is inside the block 0x1018..0x1020; the data ends at 0x101a.
    const e = thrown(() => planFlash(img([START, seq(0x1a)]), geo({ end: 0x101c })));
    expect(e).toBeInstanceOf(ImageDoesNotFitError);
    expect(e).toMatchObject({
      code: "IMAGE_DOES_NOT_FIT",
      imageEnd: 0x1020,
      end: 0x101c,
      start: START,
    });
    expect((e as Error).message).toContain("4 bytes too many");
    expect((e as Error).message).toContain("28 bytes available");
  });

  it.each([0, -1, 1.5, Number.NaN])("block size %s -> BadGeometryError", (blockSize) => {
    const e = thrown(() => planFlash(img([START, seq(4)]), geo({ blockSize })));
    expect(e).toBeInstanceOf(BadGeometryError);
    expect(e).toMatchObject({ code: "BAD_GEOMETRY", name: "BadGeometryError" });
    expect((e as Error).message).toContain(String(blockSize));
  });

  it("a bad block size is reported before an empty image", () => {
    expect(thrown(() => planFlash({ segments: [] }, geo({ blockSize: 0 })))).toBeInstanceOf(
      BadGeometryError,
    );
  });
});

describe("planFlash is pure", () => {
  it("does not mutate the input segments or geometry, and blocks do not alias them", () => {
    const a = seq(10);
    const b = seq(3, 0x80);
    const segments = [
      { address: 0x1010, data: b },
      { address: 0x1000, data: a },
    ];
    const image: PlanInput = { segments };
    const geometry = geo({ contiguousFromStart: true, end: 0x2000 });
    const before = {
      segments: segments.map((s) => ({ address: s.address, data: [...s.data] })),
      geometry: { ...geometry },
    };

    const plan = planFlash(image, geometry);
    const again = planFlash(image, geometry);

    expect(segments.map((s) => ({ address: s.address, data: [...s.data] }))).toEqual(
      before.segments,
    );
    expect(segments[0]!.data).toBe(b);
    expect(segments[1]!.data).toBe(a);
    expect(segments).toHaveLength(2);
    expect(geometry).toEqual(before.geometry);
    expect(shape(again)).toEqual(shape(plan));

    // Writing into the plan's blocks changes neither the input nor another plan.
    for (const blk of plan.blocks) blk.data.fill(0);
    expect([...a]).toEqual(before.segments[1]!.data);
    expect([...b]).toEqual(before.segments[0]!.data);
    expect(again.blocks[0]!.data[0]).toBe(1);
  });
});
