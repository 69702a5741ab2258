/**
 * A fixed number of job slots. Taking a slot is synchronous, so concurrent
 * requests cannot both see the last free slot.
 */
export class JobSlots {
  private used = 0;

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  get hasFree(): boolean {
    return this.used < this.capacity;
  }

  /** Takes a slot; returns its release function (safe to call twice), or undefined when full. */
  tryAcquire(): (() => void) | undefined {
    if (!this.hasFree) return undefined;
    this.used++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used--;
    };
  }
}
