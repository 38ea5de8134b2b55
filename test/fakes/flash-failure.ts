// The FlashError a flash that must fail rejects with (a flash that succeeds fails the test).
import { expect } from "vitest";
import { FlashError } from "../../src/flasher/errors.js";

export async function flashFailure(run: Promise<unknown>): Promise<FlashError> {
  const e = await run.then(
    () => {
      throw new Error("expected the flash to fail");
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FlashError);
  return e as FlashError;
}
