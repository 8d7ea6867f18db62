import { assert } from '@hapg/core';

/**
 * A fixed-capacity FIFO: push, shift and indexed reads are O(1), and pushing
 * onto a full ring overwrites the oldest item. Both the journal (keep the last N)
 * and the webhook queue (drop the oldest when full) are this.
 */
export class Ring<T> {
  readonly capacity: number;
  readonly #items: (T | undefined)[];
  /** index in #items of the oldest item */
  #head = 0;
  #length = 0;

  constructor(capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 1, `ring capacity must be >= 1, got ${capacity}`);
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.#length;
  }

  /** Appends `item`; answers true when the ring was full and its oldest item was overwritten. */
  push(item: T): boolean {
    const full = this.#length === this.capacity;
    this.#items[(this.#head + this.#length) % this.capacity] = item;
    if (full) this.#head = (this.#head + 1) % this.capacity;
    else this.#length++;
    return full;
  }

  /** Removes and answers the oldest item. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    // let the garbage collector have it: the ring may sit idle for hours
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#length--;
    return item;
  }

  /** The `i`-th oldest item (0 = the oldest). */
  at(i: number): T | undefined {
    if (!Number.isInteger(i) || i < 0 || i >= this.#length) return undefined;
    return this.#items[(this.#head + i) % this.capacity];
  }

  /** Items `from` (inclusive) to `to` (exclusive), oldest first. */
  slice(from: number, to: number = this.#length): T[] {
    const out: T[] = [];
    const end = Math.min(to, this.#length);
    for (let i = Math.max(0, from); i < end; i++)
      out.push(this.#items[(this.#head + i) % this.capacity] as T);
    return out;
  }
}
