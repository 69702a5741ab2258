/**
 * An incremental reader of server-sent events over raw bytes, for the usage meter: it sees the
 * chunks after they were forwarded and picks out the few events that carry usage. Lines are
 * found in the bytes and only the lines of wanted events are decoded, so the many
 * `content_block_delta` / `response.output_text.delta` events cost a byte scan and nothing more.
 *
 * Follows the parts of the SSE format the model APIs use: `\n` or `\r\n` line ends, `event:`
 * and `data:` fields, `:` comments, a blank line dispatching the event. A lone `\r` as line end
 * (allowed by the spec, sent by neither API) is not recognised; an event left unfinished at the
 * end of the stream is dropped, as EventSource does.
 */

/** Longest line kept; a longer one (far beyond any usage event) is skipped rather than held in memory. */
const MAX_LINE_BYTES = 32 * 1024 * 1024;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export class SseScanner {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private overflow = false;
  private eventName: string | undefined;
  private data: string[] = [];

  /**
   * @param wanted whether an event with this `event:` name (undefined: none given yet) may carry usage
   * @param onEvent gets each wanted event's joined `data:` lines
   */
  constructor(
    private readonly wanted: (eventName: string | undefined) => boolean,
    private readonly onEvent: (data: string) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end === -1) {
        this.keep(chunk.subarray(start));
        return;
      }
      const piece = chunk.subarray(start, end);
      if (this.partialBytes === 0 && !this.overflow) this.line(piece);
      else {
        if (!this.overflow) this.keep(piece);
        if (!this.overflow) this.line(Buffer.concat(this.partial, this.partialBytes));
        this.partial = [];
        this.partialBytes = 0;
        this.overflow = false;
      }
      start = end + 1;
    }
  }

  private keep(piece: Buffer): void {
    if (piece.length === 0 || this.overflow) return;
    if (this.partialBytes + piece.length > MAX_LINE_BYTES) {
      this.overflow = true;
      this.partial = [];
      this.partialBytes = 0;
      return;
    }
    // A copy: the chunk's memory belongs to the stream that emitted it.
    this.partial.push(Buffer.from(piece));
    this.partialBytes += piece.length;
  }

  private line(raw: Buffer): void {
    const line = raw.length > 0 && raw[raw.length - 1] === CARRIAGE_RETURN ? raw.subarray(0, raw.length - 1) : raw;
    if (line.length === 0) return this.dispatch();
    if (startsWith(line, 'data:')) {
      if (this.wanted(this.eventName)) this.data.push(fieldValue(line, 5));
    } else if (startsWith(line, 'event:')) {
      this.eventName = fieldValue(line, 6);
    }
  }

  private dispatch(): void {
    const wanted = this.data.length > 0 && this.wanted(this.eventName);
    const data = this.data.join('\n');
    this.data = [];
    this.eventName = undefined;
    if (wanted) this.onEvent(data);
  }
}

function startsWith(line: Buffer, prefix: string): boolean {
  if (line.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (line[i] !== prefix.charCodeAt(i)) return false;
  return true;
}

/** A field's value: what follows the colon, minus one leading space. */
function fieldValue(line: Buffer, colonEnd: number): string {
  const from = line[colonEnd] === 0x20 ? colonEnd + 1 : colonEnd;
  return line.toString('utf8', from);
}
