// Seed (or wipe) the test cluster from the command line:
//   node dist/test/cluster/seed-cli.js --kubeconfig .state/cluster/admin.kubeconfig [--wipe] [--repair] [SNAPSHOT...]
// --wipe first removes what a previous seed left (see seed.ts wipe()); --repair makes schematic fixture objects
// valid (see seed.ts `repair`) and lists every change.
import { parseArgs } from 'node:util';
import { KubeRest } from './kube-rest.js';
import { loadSnapshot, seedObjects, wipe } from './seed.js';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { kubeconfig: { type: 'string' }, wipe: { type: 'boolean', default: false }, repair: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  if (!values.kubeconfig) throw new Error('usage: seed-cli.js --kubeconfig FILE [--wipe] [--repair] [SNAPSHOT...]');
  const rest = await KubeRest.fromKubeconfig(values.kubeconfig);
  const log = (l: string): void => console.error(l);
  try {
    if (values.wipe) await wipe(rest, { log });
    for (const p of positionals) {
      const objs = loadSnapshot(p);
      const r = await seedObjects(rest, objs, { log, repair: values.repair });
      for (const line of r.repairs) console.error(`repaired ${line}`);
      console.log(`seeded ${p}: ${r.created} objects, ${r.statusPatched} status patches in ${r.ms} ms ${JSON.stringify(r.byKind)}`);
    }
  } finally {
    rest.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
