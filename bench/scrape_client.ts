// The scrape load's HTTP/1.1 client: one keep-alive connection that reads
// into one reused buffer and only counts body bytes, so that what a scrape
// row measures is the server and the kernel, not the client.
//
// Why not undici: a scrape of the 75 MB body at 1,000,000 series cost the
// undici client 54-153 ms of CPU (a Buffer per read, then the GC of them)
// against the bare server's 20 ms, and its p50 grew 21x from 100,000 to
// 1,000,000 series with the body 10x. With this client, the same bare server
// took 24-26 ms per 75 MB scrape (client CPU 14 ms) and 6-8x the time at
// 100,000, as curl (a C client) measured it too (8.3-8.7x). Measured
// side by side in one session; see the README's performance section.

import net from 'node:net';

export interface ScrapeResponse {
  status: number;
  /** Lower-cased Content-Encoding, '' when absent. */
  contentEncoding: string;
  /** Body bytes as sent: still compressed when gzip, without chunk framing. */
  bytes: number;
}

const MAX_HEAD = 64 * 1024;
const HEAD_PIECE = 4096;
const READ_BUFFER_BYTES = 1 << 20;

type BodyState =
  | { kind: 'head'; text: string }
  | { kind: 'length'; left: number }
  | { kind: 'chunk-size'; line: string }
  | { kind: 'chunk-data'; left: number }
  | { kind: 'chunk-end'; line: string }
  | { kind: 'trailer'; line: string }
  | { kind: 'done' };

/**
 * Reads one HTTP/1.1 response from the bytes handed to `feed`, in any split.
 * Understands Content-Length and chunked bodies (the Pushgateway, a Go
 * server, sends large ones chunked); a response framed by connection close
 * is refused, since a keep-alive load cannot use it.
 */
export class ResponseReader {
  private state: BodyState = { kind: 'head', text: '' };
  private response: ScrapeResponse = { status: 0, contentEncoding: '', bytes: 0 };

  /** The response once complete, else undefined. */
  get complete(): ScrapeResponse | undefined {
    return this.state.kind === 'done' ? this.response : undefined;
  }

  /** Consumes `buf[start, end)`; throws on bad framing or bytes past the response's end. */
  feed(buf: Buffer, start: number, end: number): void {
    let at = start;
    while (at < end) {
      const s = this.state;
      switch (s.kind) {
        case 'head':
          at = this.readHead(s, buf, at, end);
          break;
        case 'length':
        case 'chunk-data': {
          const n = Math.min(s.left, end - at);
          s.left -= n;
          this.response.bytes += n;
          at += n;
          if (s.left === 0) this.state = s.kind === 'length' ? { kind: 'done' } : { kind: 'chunk-end', line: '' };
          break;
        }
        case 'chunk-size':
        case 'chunk-end':
        case 'trailer':
          at = this.readLine(s, buf, at, end);
          break;
        case 'done':
          throw new Error(`scrape client: ${end - at} bytes after the end of the response`);
      }
    }
  }

  /** Takes the head a piece at a time: a piece may run into the body, which is not copied as a whole. */
  private readHead(s: { text: string }, buf: Buffer, at: number, end: number): number {
    const before = s.text.length;
    const piece = Math.min(end - at, HEAD_PIECE);
    s.text += buf.toString('latin1', at, at + piece);
    const i = s.text.indexOf('\r\n\r\n');
    if (i < 0) {
      if (s.text.length >= MAX_HEAD) throw new Error(`scrape client: no end of headers in ${MAX_HEAD} bytes`);
      return at + piece;
    }
    this.startBody(s.text.slice(0, i));
    return at + (i + 4 - before);
  }

  private startBody(head: string): void {
    const [statusLine, ...lines] = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!m) throw new Error(`scrape client: bad status line ${JSON.stringify(statusLine)}`);
    this.response.status = Number(m[1]);
    const headers = new Map<string, string>();
    for (const l of lines) {
      const colon = l.indexOf(':');
      headers.set(l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim());
    }
    this.response.contentEncoding = (headers.get('content-encoding') ?? '').toLowerCase();
    if ((headers.get('transfer-encoding') ?? '').toLowerCase() === 'chunked') this.state = { kind: 'chunk-size', line: '' };
    else if (/^\d{1,15}$/.test(headers.get('content-length') ?? '')) {
      const left = Number(headers.get('content-length'));
      this.state = left === 0 ? { kind: 'done' } : { kind: 'length', left };
    }
    else if (headers.has('content-length')) throw new Error(`scrape client: bad Content-Length ${JSON.stringify(headers.get('content-length'))}`);
    else throw new Error('scrape client: a response with neither Content-Length nor chunked encoding');
  }

  /** Reads up to a line's LF; then acts on the line (without its CRLF). */
  private readLine(s: { kind: 'chunk-size' | 'chunk-end' | 'trailer'; line: string }, buf: Buffer, at: number, end: number): number {
    const found = buf.subarray(at, end).indexOf(0x0a); // the reused buffer holds stale bytes past `end`
    const lf = found < 0 ? -1 : at + found;
    const stop = lf < 0 ? end : lf;
    s.line += buf.toString('latin1', at, stop);
    if (s.line.length > MAX_HEAD) throw new Error(`scrape client: a chunk framing line over ${MAX_HEAD} bytes`);
    if (stop === end) return end;
    const line = s.line.endsWith('\r') ? s.line.slice(0, -1) : s.line;
    if (s.kind === 'chunk-size') {
      const hex = line.split(';')[0].trim();
      const size = /^[0-9a-fA-F]{1,12}$/.test(hex) ? parseInt(hex, 16) : NaN;
      if (Number.isNaN(size)) throw new Error(`scrape client: bad chunk size line ${JSON.stringify(line)}`);
      this.state = size === 0 ? { kind: 'trailer', line: '' } : { kind: 'chunk-data', left: size };
    } else if (s.kind === 'chunk-end') {
      if (line !== '') throw new Error(`scrape client: chunk data longer than its size, ${JSON.stringify(line.slice(0, 20))}`);
      this.state = { kind: 'chunk-size', line: '' };
    } else {
      this.state = line === '' ? { kind: 'done' } : { kind: 'trailer', line: '' };
    }
    return lf + 1;
  }
}

/** One keep-alive connection that GETs one response at a time. */
export class ScrapeConnection {
  private readonly socket: net.Socket;
  private reader = new ResponseReader();
  private pending?: { resolve(r: ScrapeResponse): void; reject(e: Error): void };
  private failure?: Error;

  private constructor(
    private readonly url: URL,
    connected: () => void,
  ) {
    const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    this.socket = net.connect({ host: url.hostname, port: Number(url.port), onread: { buffer, callback: (n) => this.onRead(n, buffer) } }, connected);
    this.socket.setNoDelay(true);
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => this.fail(new Error(`scrape client: ${url.origin} closed the connection`)));
  }

  static open(url: URL): Promise<ScrapeConnection> {
    return new Promise((resolve, reject) => {
      const c: ScrapeConnection = new ScrapeConnection(url, () => resolve(c));
      c.socket.once('error', reject);
    });
  }

  /** GET `url`'s path with `headers`; resolves once the whole body was read. */
  get(headers: Record<string, string> = {}): Promise<ScrapeResponse> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('scrape client: one request at a time'));
    this.reader = new ResponseReader();
    let head = `GET ${this.url.pathname}${this.url.search} HTTP/1.1\r\nHost: ${this.url.host}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(`${head}\r\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onRead(n: number, buf: Buffer): boolean {
    try {
      if (!this.pending) throw new Error(`scrape client: ${n} bytes with no request outstanding`);
      this.reader.feed(buf, 0, n);
      const done = this.reader.complete;
      if (done) {
        const p = this.pending;
        this.pending = undefined;
        p.resolve(done);
      }
    } catch (e) {
      this.fail(e as Error);
      this.socket.destroy();
    }
    return true;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }
}
