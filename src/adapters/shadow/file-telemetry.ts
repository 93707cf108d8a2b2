// Sidecar access logs read from files (the lab's sidecars, or `kubectl logs` redirected to files): each poll
// reads what was appended since the last one and returns only complete lines. A file that shrank was
// truncated or rotated: reading restarts at 0.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { AccessLogFollower, EnvoyTelemetry } from '../../ports/shadow.js';

class FileFollower implements AccessLogFollower {
  private readonly off: Record<string, number> = {};
  private readonly partial: Record<string, string> = {};
  constructor(private readonly logs: Record<string, string>, from: Record<string, number> | 'end') {
    for (const [pod, path] of Object.entries(logs)) {
      const size = existsSync(path) ? statSync(path).size : 0;
      this.off[pod] = from === 'end' ? size : Math.min(from[pod] ?? 0, size);
      this.partial[pod] = '';
    }
  }
  poll(): { pod: string; text: string }[] {
    const out: { pod: string; text: string }[] = [];
    for (const [pod, path] of Object.entries(this.logs)) {
      if (!existsSync(path)) continue;
      const size = statSync(path).size;
      let off = this.off[pod] ?? 0;
      if (size < off) { off = 0; this.partial[pod] = ''; }
      if (size === off) continue;
      const fd = openSync(path, 'r');
      try {
        const buf = Buffer.allocUnsafe(Math.min(size - off, 64 << 20));
        const n = readSync(fd, buf, 0, buf.length, off);
        const text = (this.partial[pod] ?? '') + buf.toString('utf8', 0, n);
        const cut = text.lastIndexOf('\n');
        // Offsets count only complete lines, so a resume never starts mid-line.
        const complete = cut < 0 ? '' : text.slice(0, cut + 1);
        this.partial[pod] = cut < 0 ? text : text.slice(cut + 1);
        this.off[pod] = off + n;
        if (complete) out.push({ pod, text: complete });
      } finally { closeSync(fd); }
    }
    return out;
  }
  offsets(): Record<string, number> {
    const o: Record<string, number> = {};
    for (const pod of Object.keys(this.logs)) o[pod] = (this.off[pod] ?? 0) - Buffer.byteLength(this.partial[pod] ?? '');
    return o;
  }
}

export const fileTelemetry: EnvoyTelemetry = {
  follow: (logs, from) => new FileFollower(logs, from),
  // The lab's pod addresses exist only inside its network namespaces: curl runs in the pod's netns.
  scrape: (src) => new Promise((resolve) => {
    const cmd = src.netns ? ['nsenter', [`--net=/run/netns/${src.netns}`, 'curl', '-sf', '--max-time', '3', src.url]] as const : ['curl', ['-sf', '--max-time', '3', src.url]] as const;
    execFile(cmd[0], [...cmd[1]], { maxBuffer: 64 << 20 }, (err, stdout) => resolve(err ? null : stdout));
  }),
};
