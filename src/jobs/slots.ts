import type { AgentUser } from '../isolation/types.js';

/**
 * A fixed number of job slots, each with the identity its agent runs under
 * (one uid per slot, so two running jobs never share one). Taking a slot is
 * synchronous, so concurrent requests cannot both see the last free slot.
 */
export class JobSlots {
  private readonly free: AgentUser[];

  constructor(users: readonly AgentUser[]) {
    this.free = [...users];
    this.capacity = users.length;
  }

  readonly capacity: number;

  get inUse(): number {
    return this.capacity - this.free.length;
  }

  get hasFree(): boolean {
    return this.free.length > 0;
  }

  /** Takes a slot; returns its identity and release function (safe to call twice), or undefined when full. */
  tryAcquire(): { agentUser: AgentUser; release: () => void } | undefined {
    const agentUser = this.free.shift();
    if (!agentUser) return undefined;
    let released = false;
    return {
      agentUser,
      release: () => {
        if (released) return;
        released = true;
        this.free.push(agentUser);
      },
    };
  }
}
