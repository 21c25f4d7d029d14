/**
 * Pinned cases: every test/pcap/<case>/ is replayed with `node dist/cli.js replay input.pcap
 * <args> --stats` (run in the case's folder, so `--config outpost.yaml` names the case's own file)
 * and the whole output is compared with expected.json: every event in order, every field, and
 * every counter of `--stats`.
 *
 * Left out, because they change from run to run and not with the capture:
 *   - each event's metadata.uid (a random UUID per event),
 *   - the value of connection_info.uid (a random key per sensor, src/events/flow-uid.ts): each
 *     distinct uid is replaced by `flow-<n>` in order of first appearance, so expected.json still
 *     pins which events (Network Activity, DNS, HTTP) share a flow, and the format is checked,
 *   - --stats elapsedMs and packetsPerSecond (wall-clock time of the replay).
 * Every time field of an event comes from packet timestamps and is compared.
 *
 * UPDATE_EXPECTED=1 rewrites expected.json from the current output (see test/pcap/README.md).
 * Needs `npm run build` first (it runs dist/cli.js, as an operator would).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCase } from './pcap/build.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CASES_DIR = join(ROOT, 'test', 'pcap');
const CLI = join(ROOT, 'dist', 'cli.js');
const update = process.env.UPDATE_EXPECTED === '1';

interface CaseOutput {
  args: string[];
  events: Array<Record<string, unknown>>;
  stats: { files: string[]; counters: Record<string, number> };
}

/** Drops the fields that change from run to run (see the header); `flows` numbers the flow uids of one run. */
function stable(event: Record<string, unknown>, flows: Map<string, string>): Record<string, unknown> {
  const e = structuredClone(event);
  const md = e.metadata as Record<string, unknown> | undefined;
  if (md) delete md.uid;
  const ci = e.connection_info as Record<string, unknown> | undefined;
  if (ci !== undefined && ci.uid !== undefined) {
    const uid = ci.uid as string;
    assert.match(uid, /^C[0-9A-Za-z]{17}$/, 'connection_info.uid as flow-uid.ts makes it');
    let n = flows.get(uid);
    if (n === undefined) { n = `flow-${flows.size + 1}`; flows.set(uid, n); }
    ci.uid = n;
  }
  return e;
}

function runCase(dir: string): CaseOutput {
  const args = readFileSync(join(dir, 'args'), 'utf8').trim().split(/\s+/).filter(Boolean);
  const r = spawnSync(process.execPath, [CLI, 'replay', 'input.pcap', ...args, '--stats'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, `replay failed: ${r.stderr}`);
  const flows = new Map<string, string>();
  const events = r.stdout.split('\n').filter(Boolean).map((l) => stable(JSON.parse(l) as Record<string, unknown>, flows));
  const { files, counters } = JSON.parse(r.stderr) as CaseOutput['stats'];
  return { args, events, stats: { files, counters } };
}

const cases = readdirSync(CASES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

test('there are pinned cases and each has its files', () => {
  assert.ok(cases.length >= 10, `cases: ${cases.join(', ')}`);
  for (const c of cases) for (const f of ['input.pcap', 'args']) assert.ok(existsSync(join(CASES_DIR, c, f)), `${c}/${f}`);
});

for (const name of cases) {
  test(`pinned case ${name}`, { skip: existsSync(CLI) ? false : 'dist/cli.js missing: run npm run build' }, () => {
    const dir = join(CASES_DIR, name);
    // The committed capture is what build.ts makes: a change to a builder shows up here, not as
    // a silently different case.
    assert.ok(readFileSync(join(dir, 'input.pcap')).equals(buildCase(name)), `${name}/input.pcap differs from build.ts: run npm run cases:build`);
    const got = runCase(dir);
    const expectedPath = join(dir, 'expected.json');
    if (update) writeFileSync(expectedPath, JSON.stringify(got, null, 2) + '\n');
    assert.ok(existsSync(expectedPath), `${name}/expected.json missing: run with UPDATE_EXPECTED=1`);
    const expected = JSON.parse(readFileSync(expectedPath, 'utf8')) as CaseOutput;
    assert.deepEqual(got.args, expected.args, 'args changed since expected.json was written: regenerate it on purpose');
    assert.deepEqual(got.stats, expected.stats);
    assert.deepEqual(got.events, expected.events);
  });
}

// A request seen mid-stream after a server packet: the request's sender is the client (RFC 9110
// §3.3: the client sends requests). The flow's first packet is the server's; its user port
// (8080) facing a dynamic-range one, and the request itself, make the requester src_endpoint.
test('http-midstream: the side that sent the request is the client', {
  skip: existsSync(CLI) ? false : 'dist/cli.js missing: run npm run build',
}, () => {
  const { events } = runCase(join(CASES_DIR, 'http-midstream'));
  assert.equal(events.length, 2);
  for (const e of events) {
    assert.deepEqual([(e.src_endpoint as { ip: string }).ip, (e.dst_endpoint as { ip: string }).ip], ['192.168.50.10', '203.0.113.31'], `class ${String(e.class_uid)}`);
  }
  assert.equal((events[0]!.dst_endpoint as { hostname?: string }).hostname, 'api.example.org');
});

// Connections already open when the capture started (no SYN or SYN-ACK, the server's packet
// first): each is the phone's, with its device, told by an earlier handshake to the same server,
// a DNS answer, a system port or the phone's HTTP request (test/pcap/build.ts, midstream-cloud).
test('midstream-cloud: every connection is the phone\'s, with its device, without a handshake', {
  skip: existsSync(CLI) ? false : 'dist/cli.js missing: run npm run build',
}, () => {
  const { events, stats } = runCase(join(CASES_DIR, 'midstream-cloud'));
  type Ep = { ip: string; port: number };
  const tcp = events.filter((e) => e.class_uid === 4001 && (e.connection_info as { protocol_num: number }).protocol_num === 6);
  assert.deepEqual(tcp.map((e) => (e.dst_endpoint as Ep).port), [50443, 50443, 55000, 443, 8088]);
  for (const e of tcp) {
    const what = JSON.stringify(e.dst_endpoint);
    assert.equal((e.src_endpoint as Ep).ip, '192.168.50.10', what);
    assert.equal((e.device as { uid?: string } | undefined)?.uid, 'mac:02:00:00:00:00:0a', what);
    assert.equal((e.connection_info as { direction: string }).direction, 'Outbound', what);
  }
  assert.deepEqual(tcp.map((e) => e.is_src_dst_assignment_known), [true, false, false, false, false]);
  const c = stats.counters;
  assert.deepEqual([c['flows.client_by_server_table'], c['flows.client_by_dns'], c['flows.client_by_payload']], [1, 1, 1]);
});
