// Every open bus endpoint, so tests can fail when one is left open and an
// application can close everything on exit.

interface Closable {
  readonly channel: string;
  close(): Promise<void>;
}

const live = new Set<Closable>();

export function trackBus(bus: Closable): void {
  live.add(bus);
}

export function untrackBus(bus: Closable): void {
  live.delete(bus);
}

/** Bus endpoints opened and not yet closed. */
export function liveBuses(): readonly Closable[] {
  return [...live];
}

/** Closes every open endpoint (for shutdown paths and test cleanup). */
export async function closeAllBuses(): Promise<void> {
  await Promise.allSettled([...live].map((b) => b.close()));
}
