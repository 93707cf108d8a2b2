// Progress for long live runs, on stderr so stdout stays clean for --json. Throttled to a line per second.
import type { Progress } from '../ports/kube.js';

export function stderrProgress(enabled: boolean): Progress {
  if (!enabled) return { update: () => {}, done: () => {} };
  let last = 0;
  return {
    update(what, count) {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      process.stderr.write(`  listing ${what}: ${count.toLocaleString('en-US')}...\n`);
    },
    done(what, count) {
      process.stderr.write(`  listed ${what}: ${count.toLocaleString('en-US')}\n`);
    },
  };
}
