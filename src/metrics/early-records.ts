import type { CounterKey, HistogramKey, Instruments, Labels } from './instruments.js';

/**
 * Most observations a worker keeps before prom-client is loaded. Loading waits
 * for the first scrape or a few seconds after listen (metrics.ts), so few jobs
 * finish before it; the cap only bounds memory should loading fail.
 */
const MAX_EARLY_OBSERVATIONS = 10_000;

/**
 * What the worker counted before prom-client was loaded, replayed into the
 * registry once it is. Counts are summed per label set (an SSE stream adds one
 * per event), histogram observations kept one by one.
 */
export class EarlyRecords {
  private readonly counts = new Map<string, { key: CounterKey; labels: Labels; value: number }>();
  private observations: Array<{ key: HistogramKey; labels: Labels; value: number }> = [];

  count(key: CounterKey, labels: Labels, value: number): void {
    const id = `${key}\0${JSON.stringify(labels)}`;
    const entry = this.counts.get(id);
    if (entry) entry.value += value;
    else this.counts.set(id, { key, labels, value });
  }

  observe(key: HistogramKey, labels: Labels, value: number): void {
    if (this.observations.length < MAX_EARLY_OBSERVATIONS) this.observations.push({ key, labels, value });
  }

  /** Moves everything into the instruments; what is recorded afterwards goes there directly. */
  replayInto({ counters, histograms }: Instruments): void {
    for (const { key, labels, value } of this.counts.values()) counters[key].inc(labels, value);
    for (const { key, labels, value } of this.observations) histograms[key].observe(labels, value);
    this.counts.clear();
    this.observations = [];
  }
}
