import type { EventStream, ExecuteRequest, StreamEvent, WorkerEventOf } from '../client/index.js';
import { EXIT, UsageError } from './args.js';
import type { CliContext } from './context.js';
import { credentialSources, findCredentials, findGithubToken, saveRefreshedClaudeLogin } from './credentials.js';
import { createJsonRenderer, createTextRenderer, type Renderer } from './renderer.js';

const PROVIDERS = { claude: 'ClaudeAgentSDK', codex: 'CodexSDK' } as const;

/** `run "<prompt>"`: posts the job, renders its events, aborts it on Ctrl-C. Returns the exit code. */
export async function runJob(ctx: CliContext): Promise<number> {
  const { args, client, err } = ctx;
  const prompt = args.positionals.slice(1).join(' ').trim();
  if (!prompt) throw new UsageError('run needs a prompt: ai-coding-worker run "<prompt>"');

  let credentials;
  try {
    credentials = await findCredentials(args.provider, ctx.env);
  } catch (error) {
    err.write(`error NO_CREDENTIALS: ${(error as Error).message}\n`);
    return EXIT.NO_CREDENTIALS;
  }
  if (!credentials) {
    err.write(
      `error NO_CREDENTIALS: no ${args.provider} credentials found; set one of: ${credentialSources(args.provider, ctx.env).join(', ')}\n`,
    );
    return EXIT.NO_CREDENTIALS;
  }

  const request: ExecuteRequest = {
    userRequest: prompt,
    codingAssistantProvider: PROVIDERS[args.provider],
    codingAssistantAuthentication: credentials.value,
  };
  if (args.model !== undefined) request.providerOptions = { model: args.model };
  if (args.resume !== undefined) request.resumeSessionId = args.resume;
  if (args.repo !== undefined) {
    const accessToken = findGithubToken(ctx.env);
    request.github = {
      repoUrl: args.repo,
      ...(args.branch !== undefined ? { branch: args.branch } : {}),
      ...(accessToken !== undefined ? { accessToken } : {}),
    };
    if (args.pr) request.pullRequest = true;
  }
  const source = credentials.source;
  return follow(ctx, client.execute(request), {
    abortOnInterrupt: true,
    onCredentialsUpdated: async (login) => {
      if (await saveRefreshedClaudeLogin(source, login)) err.write(`the worker refreshed the Claude login; saved it to ${source}\n`);
      else err.write(`the worker refreshed the Claude login, but ${source} cannot be updated: log in again after this job\n`);
    },
  });
}

/**
 * Renders a stream to its end. With `abortOnInterrupt`, the first Ctrl-C aborts
 * the job on the worker and waits for its ABORTED event; a second one stops waiting.
 */
export async function follow(
  ctx: CliContext,
  stream: EventStream,
  options: {
    abortOnInterrupt: boolean;
    /** The worker refreshed the login the job was sent with (`credentials_updated`). */
    onCredentialsUpdated?: (login: WorkerEventOf<'credentials_updated'>) => Promise<void>;
  },
): Promise<number> {
  const renderer: Renderer = ctx.args.json ? createJsonRenderer(ctx.out) : createTextRenderer(ctx.out, ctx.err);
  let interrupted = false;
  let aborting: Promise<unknown> | undefined;
  const abortIfAsked = () => {
    if (!interrupted || aborting !== undefined || stream.sessionId === undefined) return;
    // A 404 means the job already ended; its final event is on its way.
    aborting = ctx.client.abort(stream.sessionId).catch((error: Error) => ctx.err.write(`abort failed: ${error.message}\n`));
  };
  const stopListening = ctx.onInterrupt(() => {
    if (interrupted || !options.abortOnInterrupt) {
      renderer.close();
      ctx.exit(EXIT.INTERRUPTED);
    }
    interrupted = true;
    renderer.close();
    ctx.err.write(`aborting the job${stream.sessionId ? ` ${stream.sessionId}` : ''}… (Ctrl-C again to stop waiting)\n`);
    abortIfAsked();
  });

  let last: StreamEvent | undefined;
  try {
    for await (const streamEvent of stream) {
      if (streamEvent.liveOnly) {
        if (streamEvent.event.type === 'credentials_updated') {
          await options.onCredentialsUpdated?.(streamEvent.event).catch((error: Error) => {
            ctx.err.write(`could not save the refreshed Claude login: ${error.message}\n`);
          });
        }
        // Never rendered: it carries the login's tokens.
        continue;
      }
      last = streamEvent;
      renderer.event(streamEvent);
      abortIfAsked();
    }
  } finally {
    renderer.close();
    stopListening();
  }
  await aborting;
  if (last?.event.type === 'error') return interrupted && last.event.code === 'ABORTED' ? EXIT.INTERRUPTED : EXIT.JOB_FAILED;
  return interrupted ? EXIT.INTERRUPTED : EXIT.OK;
}
