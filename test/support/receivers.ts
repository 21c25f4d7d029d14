/**
 * Real receivers for forwarding tests, the fault script and the benchmark: an HTTPS receiver
 * (node:https) that can be made slow, failing or 429; rsyslogd (Debian) with imtcp/imudp/TLS
 * writing to a file; nats-server with JetStream. Plus a throwaway PKI made with openssl.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { createServer as netServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export function which(bin: string): string | undefined {
  for (const d of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = join(d, bin);
    if (d && existsSync(p)) return p;
  }
  return undefined;
}

export interface Pki {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

/** CA, server cert (localhost, 127.0.0.1) and client cert, made with openssl into `dir`. */
export function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=outpost-test-ca');
  for (const [n, ext] of [['server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    writeFileSync(join(dir, `${n}.ext`), ext + '\n');
    o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${n === 'server' ? 'localhost' : 'outpost-client'}`);
    o('x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${n}.pem`, '-days', '2', '-extfile', `${n}.ext`);
  }
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
  };
}

export type HttpBehaviour = (req: { n: number; events: number; auth: string | undefined; clientCert: boolean }) =>
  | { status: number; retryAfter?: string; delayMs?: number }
  | undefined;

export class HttpsReceiver {
  readonly server: Server;
  /** uids in arrival order (accepted batches only). */
  readonly uids: string[] = [];
  readonly seen = new Map<string, number>();
  /** Accepted batches: the outbox sequence number of their first event (x-outpost-batch-first-seq) and their uids. */
  readonly batches: Array<{ firstSeq: number; uids: string[] }> = [];
  requests = 0;
  accepted = 0;
  duplicates = 0;
  behaviour: HttpBehaviour = () => undefined;
  /** Count events without keeping them (benchmark). */
  countOnly = false;
  eventsAccepted = 0;
  port = 0;

  constructor(pki: Pki, opts: { requireClientCert?: boolean } = {}) {
    this.server = createServer(
      {
        cert: readFileSync(pki.serverCertFile),
        key: readFileSync(pki.serverKeyFile),
        ca: readFileSync(pki.caFile),
        requestCert: opts.requireClientCert ?? false,
        rejectUnauthorized: opts.requireClientCert ?? false,
        keepAliveTimeout: 30_000,
      },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const n = ++this.requests;
          let body = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          const text = body.toString('utf8');
          const lines = req.headers['content-type'] === 'application/json' ? (JSON.parse(text) as unknown[]).map((e) => JSON.stringify(e)) : text.split('\n').filter((l) => l !== '');
          const sock = req.socket as { authorized?: boolean };
          const b = this.behaviour({ n, events: lines.length, auth: req.headers.authorization, clientCert: sock.authorized === true });
          const answer = () => {
            const status = b?.status ?? 200;
            if (status >= 200 && status < 300) {
              this.accepted++;
              this.eventsAccepted += lines.length;
              if (!this.countOnly) {
                const batch = { firstSeq: Number(req.headers['x-outpost-batch-first-seq'] ?? NaN), uids: [] as string[] };
                this.batches.push(batch);
                for (const l of lines) {
                  const uid = (JSON.parse(l) as { metadata?: { uid?: string } }).metadata?.uid ?? '';
                  const c = this.seen.get(uid) ?? 0;
                  if (c > 0) this.duplicates++;
                  this.seen.set(uid, c + 1);
                  this.uids.push(uid);
                  batch.uids.push(uid);
                }
              }
            }
            res.writeHead(status, b?.retryAfter ? { 'retry-after': b.retryAfter } : {});
            res.end(status >= 300 ? `status ${status}` : '');
          };
          if (b?.delayMs) setTimeout(answer, b.delayMs);
          else answer();
        });
      },
    );
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export async function freePort(): Promise<number> {
  const s = netServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return p;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export interface Rsyslog {
  proc: ChildProcess;
  tcpPort: number;
  udpPort: number;
  tlsPort: number;
  outFile: string;
  lines(): string[];
  stop(): Promise<void>;
}

/** rsyslogd -n with imtcp (plain and TLS via gtls) and imudp, writing each message's MSG to a file. */
export async function startRsyslog(dir: string, pki: Pki | undefined, ports?: { tcpPort: number; udpPort: number; tlsPort: number }): Promise<Rsyslog> {
  const bin = which('rsyslogd');
  if (!bin) throw new Error('rsyslogd not installed');
  mkdirSync(join(dir, 'work'), { recursive: true });
  const tcpPort = ports?.tcpPort ?? (await freePort());
  const udpPort = ports?.udpPort ?? (await freePort());
  const tlsPort = ports?.tlsPort ?? (await freePort());
  const outFile = join(dir, 'messages.log');
  const conf = [
    `global(workDirectory="${join(dir, 'work')}" maxMessageSize="64k"${pki ? ` defaultNetstreamDriverCAFile="${pki.caFile}" defaultNetstreamDriverCertFile="${pki.serverCertFile}" defaultNetstreamDriverKeyFile="${pki.serverKeyFile}"` : ''})`,
    'module(load="imtcp" maxSessions="100")',
    'module(load="imudp")',
    `input(type="imtcp" port="${tcpPort}" address="127.0.0.1" supportOctetCountedFraming="on")`,
    ...(pki ? [`input(type="imtcp" port="${tlsPort}" address="127.0.0.1" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")`] : []),
    `input(type="imudp" port="${udpPort}" address="127.0.0.1")`,
    'template(name="raw" type="string" string="%inputname% %msg%\\n")',
    `action(type="omfile" file="${outFile}" template="raw" asyncWriting="off" flushOnTXEnd="on")`,
  ].join('\n');
  const confFile = join(dir, 'rsyslog.conf');
  writeFileSync(confFile, conf + '\n');
  const proc = spawn(bin, ['-n', '-f', confFile, '-i', join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitFor(async () => (await portOpen(tcpPort)) && (!pki || (await portOpen(tlsPort))), 10_000, `rsyslogd listening (${stderr})`);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    proc,
    tcpPort,
    udpPort,
    tlsPort,
    outFile,
    lines: () => (existsSync(outFile) ? readFileSync(outFile, 'utf8').split('\n').filter((l) => l !== '') : []),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export interface NatsServer {
  proc: ChildProcess;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function startNatsServer(dir: string, port?: number): Promise<NatsServer> {
  const bin = which('nats-server');
  if (!bin) throw new Error('nats-server not installed');
  mkdirSync(dir, { recursive: true });
  const p = port ?? (await freePort());
  const proc = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', String(p), '-sd', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitFor(() => portOpen(p), 10_000, `nats-server listening (${stderr.slice(-500)})`);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    proc,
    port: p,
    url: `nats://127.0.0.1:${p}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export { waitFor };
