/**
 * Flows whose start was missed (connections open before the sensor started, a capture cut
 * mid-stream): the client and the device are the same as when the whole capture is seen.
 * The nDPI corpus's android.pcap is replayed whole and again with every SYN and SYN-ACK removed
 * and the TCP of its first 98 seconds cut (test/support/midstream-capture.ts, made in a
 * temporary folder; its busy part starts at 95 s, so the cut falls inside open connections). DHCP
 * and DNS before the cut are kept, as a restarted sensor keeps its device store and name cache.
 * Every cloud flow of the whole replay that is still in the cut one has the same client
 * (src_endpoint), direction and device. Skipped when ../shared is not mounted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeMidstreamCapture } from './support/midstream-capture.js';

const corpus = process.env.OUTPOST_NDPI_CORPUS ?? resolve(process.cwd(), '../shared/corpus/ndpi');
const android = join(corpus, 'pcap', 'android.pcap');
const missing = existsSync(android) ? false : `nDPI corpus capture absent at ${android} (../shared is not mounted): skipped`;

type Ev = Record<string, any>;

function replay(pcap: string): Ev[] {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'replay', pcap, '--emit', 'network', '--with', 'devices,discovery'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Ev).filter((e) => e.class_uid === 4001);
}

/** The flow's endpoints in either order. */
function key(e: Ev): string {
  const a = `${e.src_endpoint.ip}|${e.src_endpoint.port}`, b = `${e.dst_endpoint.ip}|${e.dst_endpoint.port}`;
  return `${e.connection_info.protocol_num}|${a < b ? `${a}|${b}` : `${b}|${a}`}`;
}

test('android.pcap: the Apple/Akamai flows seen only from the server side have the phone as client', { skip: missing }, () => {
  const events = replay(android);
  const apple = events.filter((e) => [e.src_endpoint.ip, e.dst_endpoint.ip].some((ip: string) => ip.startsWith('17.248.') || ip === '95.101.24.53'));
  assert.equal(apple.length, 4);
  for (const e of apple) {
    assert.equal(e.src_endpoint.ip, '192.168.2.17');
    assert.equal(e.dst_endpoint.port, 443);
    assert.equal(e.connection_info.direction, 'Outbound');
    assert.equal(e.is_src_dst_assignment_known, false);
    // Open at the end of the capture: a Close that discovery counts, saying why.
    assert.equal(e.activity_id, 2);
    assert.equal(e.unmapped.flow_end_reason, 'capture_end');
    assert.ok(e.time <= e.end_time);
  }
});

test('android.pcap without SYN/SYN-ACK and its first seconds: each cloud flow keeps its client and device', { skip: missing }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-midstream-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cut = join(dir, 'android-midstream.pcap');
  const made = writeMidstreamCapture(android, cut, 98, 'non-tcp');
  assert.ok(made.synDropped > 0 && made.cutDropped > 0, JSON.stringify(made));
  const whole = replay(android);
  const midstream = replay(cut);
  const byKey = new Map<string, Ev>();
  for (const e of midstream) if (!byKey.has(key(e))) byKey.set(key(e), e);
  let compared = 0, guessed = 0;
  for (const e of whole) {
    if (e.unmapped?.cloud_app === undefined) continue;
    const m = byKey.get(key(e));
    if (m === undefined) continue; // the flow ended within the cut
    compared++;
    if (!m.is_src_dst_assignment_known) guessed++;
    const what = `${key(e)} ${String(e.dst_endpoint.hostname)}`;
    assert.deepEqual([m.src_endpoint.ip, m.src_endpoint.port], [e.src_endpoint.ip, e.src_endpoint.port], what);
    assert.equal(m.device?.uid, e.device?.uid, what);
    assert.equal(m.connection_info.direction, e.connection_info.direction, what);
  }
  assert.ok(compared >= 20, `cloud flows compared: ${compared}`);
  assert.equal(guessed, compared, 'no handshake is left in the cut capture');
});
