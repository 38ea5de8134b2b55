// One "abort" listener per signal, however many waits share it. A batch
// probes dozens of node ids and reads from several boards at once, all on
// the caller's one AbortSignal; a listener each would cross Node's
// MaxListeners warning. Waits subscribe here instead; the signal carries a
// single listener that fans out, and unsubscribing removes the waiter (the
// last one takes the signal's listener with it).

type Callback = () => void;

const waiters = new WeakMap<AbortSignal, Set<Callback>>();

/** Calls `cb` once when `signal` aborts. Returns the function that unsubscribes. */
export function onAbort(signal: AbortSignal | undefined, cb: Callback): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    let live = true;
    queueMicrotask(() => live && cb());
    return () => void (live = false);
  }
  let set = waiters.get(signal);
  if (!set) {
    const fresh = new Set<Callback>();
    set = fresh;
    waiters.set(signal, fresh);
    const fire = (): void => {
      waiters.delete(signal);
      for (const f of [...fresh]) f();
    };
    signal.addEventListener("abort", fire, { once: true });
    // Drop the listener when the last waiter leaves.
    Object.defineProperty(fresh, "detach", {
      value: () => signal.removeEventListener("abort", fire),
    });
  }
  const s = set;
  s.add(cb);
  return () => {
    if (!s.delete(cb) || s.size > 0) return;
    (s as unknown as { detach: () => void }).detach();
    if (waiters.get(signal) === s) waiters.delete(signal);
  };
}
