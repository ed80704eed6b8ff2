/**
 * One progress line on stderr, redrawn at most every 200 ms: events read (of how many, when
 * known), events written, the rate and the last seq. Only on a terminal; elsewhere (a log, a
 * pipe, CI) it prints nothing and `log` is a plain line.
 */
export class Progress {
  private shown = false;
  private last = 0;
  private readonly started = Date.now();
  private line = '';

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly enabled: boolean = Boolean(process.stderr.isTTY),
  ) {}

  update(s: { read: number; written: number; total?: number | undefined; seq?: number | undefined }, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 200) return;
    this.last = now;
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const fmt = (x: number) => x.toLocaleString('en-US');
    const of = s.total !== undefined ? ` / ${fmt(s.total)} (${Math.min(100, Math.floor((100 * s.read) / Math.max(1, s.total)))}%)` : '';
    this.line = `events ${fmt(s.read)}${of}  written ${fmt(s.written)}  ${fmt(Math.round(s.read / secs))}/s${s.seq !== undefined ? `  seq ${s.seq}` : ''}`;
    this.draw();
  }

  /** A message on a line of its own, the progress line redrawn under it. */
  log(message: string): void {
    if (this.shown) this.out.write('\r\x1b[2K');
    this.out.write(`${message}\n`);
    if (this.shown) this.draw();
  }

  end(): void {
    if (this.shown) this.out.write('\r\x1b[2K');
    this.shown = false;
  }

  private draw(): void {
    this.out.write(`\r\x1b[2K${this.line}`);
    this.shown = true;
  }
}
