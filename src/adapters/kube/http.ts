// GET JSON from the API server with the kubeconfig's credentials (client-node does the auth), retries with
// exponential backoff on 429 and 5xx (honouring Retry-After), and errors mapped to stable codes.
import https from 'node:https';
import http from 'node:http';
import type { KubeAccess } from './config.js';
import { clusterError, MigrateError, userError } from '../../core/errors.js';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 200, maxDelayMs: 5000, timeoutMs: 60_000 };

export interface ApiResponse {
  status: number;
  body: unknown;
  retryAfterMs?: number;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

export class HttpFailure extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

async function requestOnce(access: KubeAccess, path: string, timeoutMs: number): Promise<ApiResponse> {
  const url = new URL(access.server.replace(/\/$/, '') + path);
  const opts: https.RequestOptions = {
    method: 'GET', hostname: url.hostname, port: url.port || (url.protocol === 'https:' ? 443 : 80),
    path: url.pathname + url.search, headers: { Accept: 'application/json' },
  };
  try {
    await access.kc.applyToHTTPSOptions(opts);
  } catch (e) {
    // Credentials are produced here: exec plugins (cloud logins) fail when a login expired.
    const user = access.kc.getCurrentUser();
    if (user?.exec || user?.authProvider) {
      throw clusterError('MIGRATE_AUTH_EXPIRED', `the credential plugin of user "${access.user}" failed: ${(e as Error).message}`, {
        object: `user/${access.user}`, next: 'log in again with your provider (e.g. the cloud CLI that wrote this kubeconfig), then rerun',
      });
    }
    throw userError('MIGRATE_KUBECONFIG_INVALID', `cannot use context "${access.context}": ${(e as Error).message}`, {
      object: `context/${access.context}`, next: 'check the cluster and user entries with `kubectl config view --minify`',
    });
  }
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => reject(new HttpFailure((e as NodeJS.ErrnoException).code ?? 'ECONNRESET', e.message)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try { body = text ? JSON.parse(text) : undefined; } catch { /* keep text */ }
        const ra = Number(res.headers['retry-after']);
        resolve({ status: res.statusCode ?? 0, body, ...(Number.isFinite(ra) && ra > 0 ? { retryAfterMs: ra * 1000 } : {}) });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new HttpFailure('ETIMEDOUT', `no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(e instanceof HttpFailure ? e : new HttpFailure((e as NodeJS.ErrnoException).code ?? 'EUNKNOWN', e.message)));
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function statusMessage(body: unknown): string {
  const b = body as { message?: string } | string | undefined;
  return typeof b === 'string' ? b.slice(0, 300) : b?.message ?? '';
}

/**
 * GET with retries. Returns the response for 2xx, 404 and 410 (callers decide); throws MigrateError for
 * unreachable servers, 401, and retry exhaustion. 403 is returned too so callers can name verb and resource.
 */
export async function apiGet(access: KubeAccess, path: string, retry: RetryPolicy = DEFAULT_RETRY): Promise<ApiResponse> {
  let lastProblem = '';
  for (let attempt = 1; attempt <= retry.attempts; attempt++) {
    let res: ApiResponse;
    try {
      res = await requestOnce(access, path, retry.timeoutMs);
    } catch (e) {
      if (e instanceof MigrateError) throw e;
      const code = (e as { code?: string }).code ?? 'EUNKNOWN';
      if (NETWORK_CODES.has(code) || e instanceof HttpFailure) {
        // A refused connection does not get better by waiting long: two quick tries, then report.
        if (code === 'ECONNREFUSED' && attempt >= 2) {
          throw clusterError('MIGRATE_CLUSTER_UNREACHABLE', `cannot reach the API server at ${access.server}: connection refused`, {
            object: `context/${access.context}`, next: 'check that the cluster is up and that --kubeconfig/--context point at it (try `kubectl cluster-info`)',
          });
        }
        lastProblem = `${code}: ${(e as Error).message}`;
        if (attempt < retry.attempts) { await sleep(Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1))); continue; }
        throw clusterError('MIGRATE_CLUSTER_UNREACHABLE', `cannot reach the API server at ${access.server} (${lastProblem})`, {
          object: `context/${access.context}`, next: 'check that the cluster is up and reachable from here (VPN, proxy), and --kubeconfig/--context',
        });
      }
      throw e;
    }
    if (res.status === 401) {
      throw clusterError('MIGRATE_AUTH_FAILED', `the API server at ${access.server} rejected the credentials of user "${access.user}" (401 Unauthorized${statusMessage(res.body) ? `: ${statusMessage(res.body)}` : ''})`, {
        object: `user/${access.user}`, next: 'the credentials are expired or wrong: log in again (cloud CLI login, or a fresh kubeconfig) and rerun',
      });
    }
    if (res.status === 429 || res.status >= 500) {
      lastProblem = `HTTP ${res.status} ${statusMessage(res.body)}`.trim();
      if (attempt < retry.attempts) {
        await sleep(Math.min(retry.maxDelayMs, res.retryAfterMs ?? retry.baseDelayMs * 2 ** (attempt - 1)));
        continue;
      }
      throw clusterError('MIGRATE_CLUSTER_ERROR', `the API server kept failing on GET ${path} after ${retry.attempts} attempts (${lastProblem})`, {
        object: path, next: 'the control plane is overloaded or unhealthy: retry later, or use --snapshot with a snapshot taken earlier',
      });
    }
    return res;
  }
  throw clusterError('MIGRATE_CLUSTER_ERROR', `GET ${path} failed (${lastProblem})`, { object: path });
}
