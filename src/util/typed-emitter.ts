import type { Logger } from "../log.ts";

/** Listener signatures keyed by event name. */
export type EventSignatures<T> = { [K in keyof T]: (...args: never[]) => void };

/**
 * A small typed event emitter. Unlike node:events, `error` is an ordinary event name (Voice Live
 * has an `error` event) and a throwing listener is logged instead of unwinding into socket code.
 */
export class TypedEmitter<Events extends EventSignatures<Events>> {
  readonly #listeners = new Map<keyof Events, Events[keyof Events][]>();
  protected emitterLog: Logger | undefined;

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Events[K]): () => void {
    const list = this.#listeners.get(name) ?? [];
    // Copy on write: an emit in progress keeps iterating its own array.
    this.#listeners.set(name, [...list, listener]);
    return () => this.off(name, listener);
  }

  /** Adds a listener that is removed after its first call. */
  once<K extends keyof Events>(name: K, listener: Events[K]): () => void {
    const detach = this.on(name, ((...args: Parameters<Events[K]>) => {
      detach();
      (listener as (...a: Parameters<Events[K]>) => void)(...args);
    }) as Events[K]);
    return detach;
  }

  off<K extends keyof Events>(name: K, listener: Events[K]): void {
    const list = this.#listeners.get(name);
    if (list === undefined) return;
    const index = list.indexOf(listener);
    if (index < 0) return;
    const next = list.filter((_, i) => i !== index);
    if (next.length === 0) this.#listeners.delete(name);
    else this.#listeners.set(name, next);
  }

  protected emit<K extends keyof Events>(name: K, ...args: Parameters<Events[K]>): void {
    const list = this.#listeners.get(name);
    if (list === undefined) return;
    for (const listener of list) {
      try {
        (listener as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (err) {
        this.emitterLog?.error({ err, event: String(name) }, "event listener threw");
      }
    }
  }
}
