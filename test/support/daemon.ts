/** Start a real daemon (no capture, API on a free loopback port) for API tests. */
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { startDaemon, type DaemonHandle, type DaemonOptions } from '../../src/daemon.js';
import { NdjsonWriter } from '../../src/replay.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createToken } from '../../src/api/auth.js';
import { ethernet, ipv4, tcp, udp, ETH_IPV4, PROTO_TCP, PROTO_UDP, TCP_SYN, TCP_ACK } from './packets.js';

export interface TestDaemon {
  daemon: DaemonHandle;
  dir: string;
  configPath: string;
  admin: string;
  read: string;
  /** The events written so far, once everything emitted is committed and printed (daemon.flushEvents). */
  events(): Promise<Array<Record<string, unknown>>>;
  stop(): Promise<void>;
}

export async function testDaemon(extra: Record<string, unknown> = {}, options: Omit<DaemonOptions, 'configPath'> = {}, withTokens = true): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-api-'));
  const admin = createToken('admin');
  const read = createToken('read');
  const api: Record<string, unknown> = { port: 0, ...(extra.api as object | undefined) };
  if (withTokens) api.tokens = [{ name: 'ops', role: 'admin', sha256: admin.sha256 }, { name: 'grafana', role: 'read', sha256: read.sha256 }];
  const doc = { dataDir: join(dir, 'data'), logLevel: 'silent', ...extra, api };
  const configPath = join(dir, 'outpost.yaml');
  writeFileSync(configPath, stringify(doc), { mode: 0o640 });
  const eventsPath = join(dir, 'events.ndjson');
  const writer = new NdjsonWriter(openSync(eventsPath, 'w'));
  const daemon = await startDaemon(loadConfig(configPath), createLogger('silent'), writer, { ...options, configPath });
  return {
    daemon, dir, configPath, admin: admin.token, read: read.token,
    events: async () => { await daemon.flushEvents(); return readFileSync(eventsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>); },
    stop: () => daemon.group.stop(),
  };
}

/** A few TCP and UDP flows fed straight into the sensor. */
export function feedFlows(d: DaemonHandle): void {
  const now = Date.now() * 1000;
  let i = 0;
  const send = (l3: Buffer) => { const f = ethernet('02:00:00:00:00:01', '02:00:00:00:00:02', ETH_IPV4, l3); d.sensor.onPacket(f, 0, f.length, f.length, now + i++, 1, 0); };
  for (let k = 0; k < 5; k++) {
    send(ipv4({ src: `10.0.0.${k + 1}`, dst: '192.0.2.10', proto: PROTO_TCP }, tcp({ sport: 40000 + k, dport: 443, seq: 1, flags: TCP_SYN })));
    send(ipv4({ src: '192.0.2.10', dst: `10.0.0.${k + 1}`, proto: PROTO_TCP }, tcp({ sport: 443, dport: 40000 + k, seq: 9, flags: TCP_SYN | TCP_ACK })));
  }
  for (let k = 0; k < 3; k++) send(ipv4({ src: '10.0.1.1', dst: '198.51.100.53', proto: PROTO_UDP }, udp({ sport: 50000 + k, dport: 53 }, Buffer.alloc(30))));
}
