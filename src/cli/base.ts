// Shared behaviour of every command: --json prints the typed Result (oclif's JSON flag), errors print their
// code, object and next step and exit with the class's fixed code (DESIGN.md conventions 1, 2, 4).
import { Command, Flags, type Interfaces } from '@oclif/core';
import { asMigrateError } from '../core/errors.js';

export const sourceFlags = {
  kubeconfig: Flags.string({ description: 'kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)', helpGroup: 'SOURCE' }),
  context: Flags.string({ description: 'kubeconfig context to use', helpGroup: 'SOURCE' }),
  snapshot: Flags.string({ description: 'read a snapshot (file or directory of YAML/JSON) instead of a cluster', helpGroup: 'SOURCE', exclusive: ['kubeconfig', 'context'] }),
  namespace: Flags.string({ char: 'n', description: 'namespace to include (repeatable; default: all)', multiple: true, helpGroup: 'SOURCE' }),
  'root-namespace': Flags.string({ description: "Istio's root namespace (mesh-wide policies)", default: 'istio-system', helpGroup: 'SOURCE' }),
};

export abstract class MigrateCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  protected flags!: Interfaces.InferredFlags<T['flags'] & typeof MigrateCommand.baseFlags>;

  public override async init(): Promise<void> {
    await super.init();
    const { flags } = await this.parse({ flags: this.ctor.flags, baseFlags: (super.ctor as typeof MigrateCommand).baseFlags, enableJsonFlag: this.ctor.enableJsonFlag, args: this.ctor.args, strict: this.ctor.strict });
    this.flags = flags as typeof this.flags;
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    // oclif's own parse and exit errors keep their behaviour.
    if (err.oclif || (err as { code?: string }).code === 'EEXIT') return super.catch(err);
    const e = asMigrateError(err);
    if (this.jsonEnabled()) process.stdout.write(JSON.stringify({ error: e.toJSON() }, null, 2) + '\n');
    else process.stderr.write(e.format() + '\n');
    if (e.errorClass === 'bug' && process.env.MIGRATE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(e.exitCode);
  }

  /** Plain JSON: oclif colorizes it, which is slow for large Results and wrong in pipes. */
  public override logJson(json: unknown): void {
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  }

  /** Progress goes to stderr for live runs unless --json asked for machine output only. */
  protected progressEnabled(live: boolean): boolean {
    return live && !process.env.MIGRATE_NO_PROGRESS;
  }
}
