/**
 * A binary min-heap of deadlines: what a link's routers have asked to be woken at, so that one
 * timer, armed at the earliest, serves them all (ports/timer-heap.ts). Pure: it holds numbers and
 * values and never reads a clock.
 *
 * Contract: entries come out earliest deadline first, and entries with the same deadline in the
 * order they were pushed. `push` returns the entry, which `remove` takes out in O(log n) wherever
 * it sits; removing one that is no longer queued (popped, removed) does nothing.
 */

export interface DeadlineEntry<T> {
  readonly at: number;
  readonly value: T;
}

/** The entry as the heap keeps it: its place in the array, -1 once out of the heap. */
interface Slot<T> extends DeadlineEntry<T> {
  readonly seq: number;
  index: number;
}

export class DeadlineHeap<T> {
  private readonly slots: Slot<T>[] = [];
  private pushed = 0;

  get size(): number {
    return this.slots.length;
  }

  /** The earliest deadline queued, or undefined when none is. */
  peek(): number | undefined {
    return this.slots[0]?.at;
  }

  push(at: number, value: T): DeadlineEntry<T> {
    const slot: Slot<T> = { at, value, seq: this.pushed++, index: this.slots.length };
    this.slots.push(slot);
    this.up(slot.index);
    return slot;
  }

  /** Takes out and returns the earliest entry, or undefined when the heap is empty. */
  pop(): DeadlineEntry<T> | undefined {
    const first = this.slots[0];
    if (first !== undefined) this.take(first);
    return first;
  }

  /** Takes `entry` out; false when it was not queued (any more). */
  remove(entry: DeadlineEntry<T>): boolean {
    const slot = entry as Slot<T>;
    if (slot.index < 0 || this.slots[slot.index] !== slot) return false;
    this.take(slot);
    return true;
  }

  private take(slot: Slot<T>): void {
    const i = slot.index;
    const last = this.slots.pop() as Slot<T>;
    slot.index = -1;
    if (last === slot) return;
    this.slots[i] = last;
    last.index = i;
    // The moved entry may belong above or below the hole it fills.
    this.up(i);
    this.down(last.index);
  }

  private before(a: Slot<T>, b: Slot<T>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    const slot = this.slots[i] as Slot<T>;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = this.slots[parentIndex] as Slot<T>;
      if (!this.before(slot, parent)) break;
      this.place(parent, i);
      i = parentIndex;
    }
    this.place(slot, i);
  }

  private down(i: number): void {
    const slot = this.slots[i] as Slot<T>;
    const n = this.slots.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child =
        right < n && this.before(this.slots[right] as Slot<T>, this.slots[left] as Slot<T>)
          ? right
          : left;
      const next = this.slots[child] as Slot<T>;
      if (!this.before(next, slot)) break;
      this.place(next, i);
      i = child;
    }
    this.place(slot, i);
  }

  private place(slot: Slot<T>, i: number): void {
    this.slots[i] = slot;
    slot.index = i;
  }
}
