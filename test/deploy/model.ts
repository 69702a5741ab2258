import net from 'node:net';
import {
  messagesText,
  startFakeAnthropic,
  type FakeAnthropic,
  type FakeReply,
  type RecordedRequest,
  type ScriptContext,
} from '../fixtures/fake-anthropic.js';
import { docker } from './docker-cli.js';

/**
 * The fake model, reachable from containers. The fixture listens on 127.0.0.1 only; a
 * relay listens on the default bridge's gateway address (docker0, a host address that
 * every container network routes to the host) and passes connections on. So the
 * containers use real Docker networks, not `--network host`.
 */
export interface ContainerModel {
  fake: FakeAnthropic;
  /** ANTHROPIC_BASE_URL for containers. */
  url: string;
  close(): Promise<void>;
}

type Message = { role: string; content: unknown };

function textOf(message: Message | undefined): string {
  return message ? messagesText({ body: { messages: [message] } } as RecordedRequest) : '';
}

function isToolResult(message: Message | undefined): boolean {
  return JSON.stringify(message?.content ?? '').includes('"tool_result"');
}

/**
 * Prompts drive the script:
 * - `RUN[command]END`: the agent runs `command` with its Bash tool, then the model says "Done.";
 * - `HOLD[ms]`: the model's last reply (after the tool, if any) waits `ms`;
 * - anything else: "Done." at once.
 */
export function deployScript({ request }: ScriptContext): FakeReply {
  const userMessages = ((request.body?.messages ?? []) as Message[]).filter((message) => message.role === 'user');
  const afterTool = isToolResult(userMessages.at(-1));
  const prompt = textOf(userMessages.findLast((message) => !isToolResult(message)));
  const command = /RUN\[(.*?)\]END/s.exec(prompt)?.[1];
  if (command !== undefined && !afterTool) return { type: 'tool_use', name: 'Bash', input: { command, description: 'run it' } };
  return { type: 'text', text: 'Done.', delayMs: Number(/HOLD\[(\d+)\]/.exec(prompt)?.[1] ?? 0) };
}

/** What the agent's Bash tool printed in the job whose prompt carried `marker`. */
export function toolOutput(fake: FakeAnthropic, marker: string): string | undefined {
  for (const recorded of fake.mainRequests()) {
    const userMessages = ((recorded.body?.messages ?? []) as Message[]).filter((message) => message.role === 'user');
    const last = userMessages.at(-1);
    if (isToolResult(last) && textOf(userMessages.findLast((message) => !isToolResult(message))).includes(marker)) return textOf(last);
  }
  return undefined;
}

export async function startContainerModel(): Promise<ContainerModel> {
  const fake = await startFakeAnthropic(deployScript);
  const gateway = await docker(['network', 'inspect', 'bridge', '-f', '{{(index .IPAM.Config 0).Gateway}}']);
  const fakePort = Number(new URL(fake.url).port);
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(fakePort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) socket.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve, reject) => relay.once('error', reject).listen(0, gateway, resolve));
  const { port } = relay.address() as net.AddressInfo;
  return {
    fake,
    url: `http://${gateway}:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      await fake.close();
    },
  };
}
