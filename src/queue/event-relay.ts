import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isLiveOnly, isTerminal, type LiveOnlyEvent, type NumberedEvent, type WorkerEvent } from '../events/registry.js';
import { LIVE_ONLY_PREFIX, type ClusterSessions } from './cluster-sessions.js';
import { openPayload } from './job-payload.js';
import { keys } from './keys.js';

interface Follower {
  lastSent: number;
  listener: (event: NumberedEvent) => void;
  onEnd: () => void;
  onLiveOnly?: (event: LiveOnlyEvent) => void;
  ended: boolean;
}

const CHANNEL_PREFIX = keys.events('');

/**
 * A gateway's view of the event streams its clients follow. One pub/sub
 * connection carries every session's appends (the workers publish each event
 * as they add it to the session's stream); a follower that missed one — it
 * joined late, the message overtook a read, Redis reconnected — reads the gap
 * from the stream by id. So each follower gets every event once, in order,
 * and ends after the job's final event.
 */
export class EventRelay {
  private readonly followers = new Map<string, Set<Follower>>();
  /** Settles once the session's channel is subscribed: reading the stream before that could miss an append. */
  private readonly subscriptions = new Map<string, Promise<void>>();
  /** Sessions whose followers may have missed a published event (a read failed, Redis reconnected). */
  private readonly suspect = new Set<string>();

  constructor(
    private readonly subscriber: Redis,
    private readonly sessions: ClusterSessions,
    private readonly logger: Logger,
    /** JOB_ENCRYPTION_KEY: opens the sealed live-only events. */
    private readonly encryptionKey: Buffer,
  ) {
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    // After a reconnect (ioredis subscribes again by itself), read what was published meanwhile.
    subscriber.on('ready', () => {
      for (const sessionId of this.followers.keys()) this.suspect.add(sessionId);
      void this.catchUpSuspects();
    });
  }

  /** Follows the session's stream from after `afterId` (and its live-only events, to `onLiveOnly`); returns the unsubscribe. */
  follow(sessionId: string, afterId: number, listener: Follower['listener'], onEnd: () => void, onLiveOnly?: Follower['onLiveOnly']): () => void {
    const follower: Follower = { lastSent: afterId, listener, onEnd, onLiveOnly, ended: false };
    let group = this.followers.get(sessionId);
    if (!group) {
      group = new Set();
      this.followers.set(sessionId, group);
      const subscribed = this.subscriber.subscribe(keys.events(sessionId)).then(
        () => undefined,
        (error: unknown) => {
          // Read again every second until Redis is back (ioredis subscribes again on reconnect).
          this.suspect.add(sessionId);
          this.logger.warn({ sessionId, err: error }, 'could not subscribe to a session\'s events; reading them as Redis comes back');
        },
      );
      this.subscriptions.set(sessionId, subscribed);
    }
    group.add(follower);
    // Subscribed first, then read: an event appended in between is in the read or in a message.
    void this.subscriptions.get(sessionId)!.then(() => this.catchUp(sessionId));
    return () => this.remove(sessionId, follower);
  }

  /** The sessions that have followers here. */
  followedSessions(): string[] {
    return [...this.followers.keys()];
  }

  /** Reads each follower's missing events from the stream. */
  async catchUp(sessionId: string): Promise<void> {
    const group = this.followers.get(sessionId);
    if (!group || group.size === 0) return;
    const from = Math.min(...[...group].map((follower) => follower.lastSent));
    let events: NumberedEvent[];
    try {
      this.suspect.delete(sessionId);
      events = await this.sessions.eventsAfter(sessionId, from);
    } catch (error) {
      this.suspect.add(sessionId);
      this.logger.debug({ sessionId, err: error }, 'could not read a session\'s stream; trying again later');
      return;
    }
    for (const event of events) this.deliver(sessionId, event, false);
  }

  /** Reads again the streams that may have been missed; the gateway calls it every second. */
  async catchUpSuspects(): Promise<void> {
    await Promise.all([...this.suspect].map((sessionId) => this.catchUp(sessionId)));
  }

  /** Ends the session's followers after giving them `events` (the store's, once the stream is gone). */
  finish(sessionId: string, events: readonly NumberedEvent[]): void {
    for (const event of events) this.deliver(sessionId, event, false);
    for (const follower of [...(this.followers.get(sessionId) ?? [])]) this.end(sessionId, follower);
  }

  private onMessage(channel: string, message: string): void {
    if (!channel.startsWith(CHANNEL_PREFIX)) return;
    const sessionId = channel.slice(CHANNEL_PREFIX.length);
    if (message.startsWith(LIVE_ONLY_PREFIX)) return this.deliverLiveOnly(sessionId, message.slice(LIVE_ONLY_PREFIX.length));
    // `<id>|<type>|<event JSON>` (queue/cluster-sessions.ts).
    const first = message.indexOf('|');
    const second = message.indexOf('|', first + 1);
    const id = Number(message.slice(0, first));
    const group = this.followers.get(sessionId);
    if (!group) return;
    if ([...group].some((follower) => id > follower.lastSent + 1)) {
      void this.catchUp(sessionId);
      return;
    }
    this.deliver(sessionId, { id, event: JSON.parse(message.slice(second + 1)) as WorkerEvent }, true);
  }

  /** Live-only events go to whoever follows now, as they come: they are not numbered and never replayed. */
  private deliverLiveOnly(sessionId: string, sealed: string): void {
    const group = this.followers.get(sessionId);
    if (!group) return;
    let event: WorkerEvent;
    try {
      event = JSON.parse(openPayload(sealed, this.encryptionKey, sessionId)) as WorkerEvent;
    } catch (error) {
      this.logger.warn({ sessionId, err: error }, 'dropped a live-only event that could not be opened');
      return;
    }
    if (!isLiveOnly(event)) return;
    for (const follower of [...group]) if (!follower.ended) follower.onLiveOnly?.(event);
  }

  /** `nextOnly`: a published event, which only the follower that has everything before it may take. */
  private deliver(sessionId: string, event: NumberedEvent, nextOnly: boolean): void {
    for (const follower of [...(this.followers.get(sessionId) ?? [])]) {
      if (follower.ended || event.id <= follower.lastSent || (nextOnly && event.id !== follower.lastSent + 1)) continue;
      follower.lastSent = event.id;
      follower.listener(event);
      if (isTerminal(event.event)) this.end(sessionId, follower);
    }
  }

  private end(sessionId: string, follower: Follower): void {
    if (follower.ended) return;
    follower.ended = true;
    this.remove(sessionId, follower);
    follower.onEnd();
  }

  private remove(sessionId: string, follower: Follower): void {
    const group = this.followers.get(sessionId);
    if (!group?.delete(follower) || group.size > 0) return;
    this.followers.delete(sessionId);
    this.subscriptions.delete(sessionId);
    this.suspect.delete(sessionId);
    void this.subscriber.unsubscribe(keys.events(sessionId)).catch(() => {});
  }
}
