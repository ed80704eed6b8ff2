type Listener = (...args: unknown[]) => void;

/** A tiny typed event emitter that works the same in browsers and Node. */
export class Emitter<Events extends Record<string, unknown[]>> {
  private readonly listeners = new Map<keyof Events, Set<Listener>>();

  on<K extends keyof Events>(event: K, fn: (...args: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const l = fn as unknown as Listener;
    set.add(l);
    return () => set.delete(l);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const fn of this.listeners.get(event) ?? []) fn(...args);
  }
}
