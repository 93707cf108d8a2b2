// Runs shadow-probe with `--format raw` and decodes its stdout (length-prefixed shadow.h structs) into records.
// Logs (stderr) are kept for error messages: a probe that fails to start is reported with the tail of its stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { decodeStream, type ProbeRecord } from './records.js';

export interface ProbeRunOptions {
  bin: string;
  configPath: string;
  stateDir?: string;
  args?: string[];
  /** called for every decoded record, in order */
  onRecord?: (r: ProbeRecord) => void;
  /** how long loading and attaching may take (the verifier is slow on a busy machine) */
  startTimeoutMs?: number;
}

export class ProbeStartError extends Error {
  constructor(message: string, readonly stderrTail: string) {
    super(`${message}: ${stderrTail}`);
  }
}

export interface ProbeSession {
  readonly records: ProbeRecord[];
  stderr(): string;
  /** SIGINT by default: the probe drains its ring, dumps edges and metrics, detaches, exits 0 */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

const tail = (s: string, lines = 5) => s.trim().split('\n').slice(-lines).join('\n');

/** Starts the probe and resolves once it reports that it is attached and running. */
export function startProbe(o: ProbeRunOptions): Promise<ProbeSession> {
  const args = ['--config', o.configPath, '--format', 'raw', ...(o.stateDir ? ['--state-dir', o.stateDir] : []), ...(o.args ?? [])];
  const child: ChildProcess = spawn(o.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const records: ProbeRecord[] = [];
  let pending: Uint8Array = new Uint8Array(0);
  let err = '';
  let decodeError: Error | undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    if (decodeError) return;
    const buf = new Uint8Array(pending.byteLength + chunk.byteLength);
    buf.set(pending);
    buf.set(chunk, pending.byteLength);
    try {
      const { records: got, rest } = decodeStream(buf);
      pending = rest.slice();
      for (const r of got) {
        records.push(r);
        o.onRecord?.(r);
      }
    } catch (e) {
      decodeError = e as Error;
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<number | string>((res) => child.once('close', (code, sig) => res(code ?? sig ?? -1)));
  const session: ProbeSession = {
    records,
    stderr: () => err,
    stop: (signal: NodeJS.Signals = 'SIGINT') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited.then((code) => {
        if (decodeError) throw decodeError;
        return code;
      });
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new ProbeStartError('shadow-probe did not attach in time', tail(err)));
    }, o.startTimeoutMs ?? 60_000);
    const check = () => {
      if (/running: /.test(err)) {
        clearTimeout(timer);
        child.stderr!.off('data', check);
        resolve(session);
      }
    };
    child.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new ProbeStartError(`shadow-probe exited (${code}) before attaching`, tail(err)));
    });
  });
}
