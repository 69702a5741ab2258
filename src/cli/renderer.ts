import { createSpinner, type Spinner } from 'nanospinner';
import { createColors } from 'picocolors';
import type { StreamEvent, WorkerEvent, WorkerEventOf } from '../client/index.js';

/** Shows a job's events as they arrive. */
export interface Renderer {
  event(streamEvent: StreamEvent): void;
  /** Stops any spinner; call before printing anything else or exiting. */
  close(): void;
}

type Item = NonNullable<WorkerEventOf<'assistant_message'>['normalized']>[number];

/** `--json`: one `{"id","event"}` object per line, nothing else on stdout. */
export function createJsonRenderer(out: NodeJS.WritableStream): Renderer {
  return {
    event: (streamEvent) => void out.write(`${JSON.stringify({ id: streamEvent.id, event: streamEvent.event })}\n`),
    close: () => undefined,
  };
}

/**
 * Human output. On a terminal: colors, and a spinner for the clone and commit
 * stages; otherwise the same lines, plain. The final `error` line goes to `err`.
 */
export function createTextRenderer(out: NodeJS.WriteStream, err: NodeJS.WritableStream): Renderer {
  const tty = out.isTTY === true;
  const c = createColors(tty);
  let spinner: Spinner | undefined;
  let pullRequest: string | undefined;
  let commitBranch: string | undefined;

  const line = (text: string) => {
    spinner?.clear();
    out.write(`${text}\n`);
    spinner?.render();
  };
  const stage = (text: string, done: 'success' | 'warn' | undefined) => {
    if (!tty) return line(`${done === 'warn' ? '! ' : '· '}${text}`);
    spinner ??= startSpinner(out);
    if (done === undefined) spinner.update({ text });
    else {
      spinner[done]({ text });
      spinner = undefined;
    }
  };
  const close = () => {
    spinner?.stop();
    spinner = undefined;
  };

  const item = (entry: Item) => {
    if (entry.kind === 'text' && entry.text.trim()) line(entry.text.trim());
    else if (entry.kind === 'tool_call') line(`${c.cyan('→')} ${c.bold(entry.tool.name)} ${c.dim(summarizeInput(entry.tool.input))}`.trimEnd());
    else if (entry.kind === 'tool_result' && entry.isError) line(c.red(`✗ ${oneLine(entry.output ?? 'tool failed', 100)}`));
    else if (entry.kind === 'error') line(c.yellow(`! ${oneLine(entry.text, 200)}`));
  };

  const handlers: { [T in WorkerEvent['type']]?: (event: WorkerEventOf<T>, id: number) => void } = {
    connected: (event) => line(c.dim(`session ${event.sessionId} (${event.provider}${event.resuming ? ', resumed' : ''})`)),
    message: (event) => line(c.dim(event.message)),
    github_pull_progress: (event) =>
      stage(event.data.type === 'completed' ? 'Repository ready' : (event.data.message ?? 'Cloning'), event.data.type === 'completed' ? 'success' : undefined),
    branch_created: (event) => line(c.dim(`branch ${event.branchName} (from ${event.baseBranch})`)),
    assistant_message: (event) => event.normalized?.forEach(item),
    commit_progress: (event) => {
      if (event.branch) commitBranch = event.branch;
      const done = event.stage === 'completed' || event.stage === 'pushed' ? 'success' : event.stage === 'push_failed' ? 'warn' : undefined;
      stage(event.error ? `${event.message}: ${event.error}` : event.message, done);
    },
    pull_request: (event) => {
      pullRequest = event.url;
      line(`pull request ${event.action}: ${event.url}`);
    },
    completed: (event) => {
      close();
      const usage = event.usage;
      const rows: [string, string | undefined][] = [
        ['session', event.sessionId],
        ['branch', event.branch ?? commitBranch],
        ['commit', event.commitHash],
        ['pull request', pullRequest],
        ['tokens', usage && (usage.inputTokens !== undefined || usage.outputTokens !== undefined) ? `${usage.inputTokens ?? 0} in, ${usage.outputTokens ?? 0} out` : undefined],
        ['cost', usage?.costUsd !== undefined ? `$${usage.costUsd.toFixed(4)}` : undefined],
        ['duration', `${(event.duration_ms / 1000).toFixed(1)} s`],
      ];
      line(c.green('✔ completed'));
      for (const [label, value] of rows) if (value !== undefined) line(`  ${c.dim(label.padEnd(13))}${value}`);
    },
    error: (event) => {
      close();
      err.write(`${c.red('error')} ${event.code}: ${event.error}\n`);
    },
  };

  return {
    event({ id, event }) {
      const handler = handlers[event.type] as ((event: WorkerEvent, id: number) => void) | undefined;
      handler?.(event, id);
    },
    close,
  };
}

/**
 * nanospinner exits the process on SIGINT while it spins; the CLI must abort the
 * job on the worker first, so the listeners it adds are taken off again.
 */
function startSpinner(out: NodeJS.WriteStream): Spinner {
  const before = new Set(process.listeners('SIGINT'));
  const spinner = createSpinner('', { stream: out }).start();
  for (const listener of process.listeners('SIGINT')) if (!before.has(listener)) process.off('SIGINT', listener);
  return spinner;
}

const INPUT_KEYS = ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description', 'prompt'];

/** A tool call's input in one short line: its most telling field, else its JSON. */
export function summarizeInput(input: unknown, width = 80): string {
  if (input === undefined || input === null) return '';
  if (typeof input === 'string') return oneLine(input, width);
  if (typeof input === 'object' && !Array.isArray(input)) {
    const record = input as Record<string, unknown>;
    for (const key of INPUT_KEYS) {
      const value = record[key];
      if (typeof value === 'string' && value) return oneLine(value, width);
      if (Array.isArray(value) && value.every((part) => typeof part === 'string')) return oneLine(value.join(' '), width);
    }
  }
  return oneLine(JSON.stringify(input) ?? '', width);
}

function oneLine(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}
