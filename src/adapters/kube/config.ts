// Loads cluster access the way kubectl does: --kubeconfig, else KUBECONFIG, else ~/.kube/config, else the
// in-cluster service account; --context picks a context. Problems become MigrateErrors with a next step.
import { existsSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { userError, clusterError } from '../../core/errors.js';

export interface KubeAccessOptions {
  kubeconfig?: string;
  context?: string;
  /** Injected for tests; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  now?: Date;
  /** Root under which the in-cluster service account files live (tests); default `/`. */
  inClusterRoot?: string;
}

export interface KubeAccess {
  kc: KubeConfig;
  server: string;
  context: string;
  user: string;
}

function certExpiry(pemOrB64: string | undefined, isFile: boolean): Date | undefined {
  if (!pemOrB64) return undefined;
  try {
    const pem = isFile ? readFileSync(pemOrB64) : Buffer.from(pemOrB64, 'base64');
    return new Date(new X509Certificate(pem).validTo);
  } catch {
    return undefined;
  }
}

export function loadKubeAccess(opts: KubeAccessOptions = {}): KubeAccess {
  const env = opts.env ?? process.env;
  const kc = new KubeConfig();
  const explicit = opts.kubeconfig ?? (env.KUBECONFIG ? env.KUBECONFIG : undefined);
  const home = env.HOME ? `${env.HOME}/.kube/config` : undefined;
  try {
    if (explicit) {
      const files = explicit.split(':').filter(Boolean);
      const present = files.filter((f) => existsSync(f));
      if (present.length === 0) {
        throw userError('MIGRATE_KUBECONFIG_NOT_FOUND', `kubeconfig not found: ${files.join(', ')}`, {
          object: files.join(':'), next: 'pass --kubeconfig FILE, set KUBECONFIG, or use --snapshot PATH to work offline',
        });
      }
      if (present.length === 1) kc.loadFromFile(present[0]!);
      else {
        kc.loadFromFile(present[0]!);
        for (const f of present.slice(1)) {
          const other = new KubeConfig();
          other.loadFromFile(f);
          kc.mergeConfig(other);
        }
      }
    } else if (home && existsSync(home)) {
      kc.loadFromFile(home);
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(`${opts.inClusterRoot ?? ''}/var/run/secrets/kubernetes.io/serviceaccount/token`)) {
      // client-node reads KUBERNETES_SERVICE_HOST/PORT from process.env.
      kc.loadFromCluster(opts.inClusterRoot);
    } else {
      throw userError('MIGRATE_KUBECONFIG_NOT_FOUND', 'no cluster configuration: no --kubeconfig, KUBECONFIG, ~/.kube/config or in-cluster service account', {
        next: 'pass --kubeconfig FILE (and --context NAME), or --snapshot PATH to work offline',
      });
    }
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith?.('MIGRATE_')) throw e;
    throw userError('MIGRATE_KUBECONFIG_INVALID', `cannot load kubeconfig ${explicit ?? home ?? ''}: ${(e as Error).message}`, {
      object: explicit ?? home, next: 'check the file with `kubectl config view --kubeconfig FILE`',
    });
  }
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      throw userError('MIGRATE_CONTEXT_NOT_FOUND', `context "${opts.context}" is not in the kubeconfig (have: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`, {
        object: `context/${opts.context}`, next: 'list contexts with `kubectl config get-contexts` and pass one with --context',
      });
    }
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw userError('MIGRATE_KUBECONFIG_INVALID', `the current context "${kc.getCurrentContext()}" names no cluster`, { next: 'pick a context with --context' });
  }
  const user = kc.getCurrentUser();
  const hasCreds = !!user && !!(user.token || user.certData || user.certFile || user.exec || user.authProvider || user.username || (user as { tokenFile?: string }).tokenFile);
  if (!hasCreds) {
    throw clusterError('MIGRATE_AUTH_MISSING', `context "${kc.getCurrentContext()}" has no credentials (user "${user?.name ?? '(none)'}")`, {
      object: `user/${user?.name ?? '(none)'}`, next: 'log in again with your provider (it rewrites the kubeconfig user), then rerun',
    });
  }
  const expiry = certExpiry(user!.certData ?? user!.certFile, !user!.certData && !!user!.certFile);
  if (expiry && expiry.getTime() < (opts.now ?? new Date()).getTime()) {
    throw clusterError('MIGRATE_AUTH_EXPIRED', `the client certificate of user "${user!.name}" expired on ${expiry.toISOString()}`, {
      object: `user/${user!.name}`, next: 'renew the credentials (re-run your cloud login or regenerate the kubeconfig), then rerun',
    });
  }
  return { kc, server: cluster.server, context: kc.getCurrentContext(), user: user!.name };
}
