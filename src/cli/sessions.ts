import { EXIT, UsageError } from './args.js';
import type { CliContext } from './context.js';
import { follow } from './run.js';

/** `sessions list | show ID | stream ID | abort ID | delete ID`. Returns the exit code. */
export async function runSessions(ctx: CliContext): Promise<number> {
  const { args, client, out } = ctx;
  const [, action, id] = args.positionals;
  const print = (value: unknown) => out.write(`${JSON.stringify(value, null, args.json ? undefined : 2)}\n`);
  const needId = () => {
    if (!id) throw new UsageError(`sessions ${action} needs a session id`);
    return id;
  };

  switch (action) {
    case 'list': {
      const list = await client.listSessions({
        ...(args.limit !== undefined ? { limit: args.limit } : {}),
        ...(args.offset !== undefined ? { offset: args.offset } : {}),
      });
      if (args.json) print(list);
      else {
        for (const s of list.sessions) {
          out.write(`${[s.sessionId, s.status.padEnd(11), s.provider.padEnd(14), s.updatedAt, s.title ?? ''].join('  ').trimEnd()}\n`);
        }
        if (list.nextOffset !== undefined) out.write(`… more: --offset ${list.nextOffset}\n`);
      }
      return EXIT.OK;
    }
    case 'show':
      print(await client.getSession(needId()));
      return EXIT.OK;
    case 'stream': {
      const streamId = needId();
      const stream = client.stream(streamId, args.lastEventId !== undefined ? { lastEventId: args.lastEventId } : {});
      return follow(ctx, stream, { abortOnInterrupt: false });
    }
    case 'abort':
      if (args.json) print(await client.abort(needId()));
      else out.write(`aborted ${(await client.abort(needId())).sessionId}\n`);
      return EXIT.OK;
    case 'delete':
      if (args.json) print(await client.deleteSession(needId()));
      else out.write(`deleted ${(await client.deleteSession(needId())).sessionId}\n`);
      return EXIT.OK;
    default:
      throw new UsageError(action ? `unknown sessions command: ${action}` : 'sessions needs a command: list, show, stream, abort or delete');
  }
}
