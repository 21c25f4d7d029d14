/**
 * `outpost replay`'s progress line: on a terminal (a pseudo-terminal from util-linux `script`) it
 * is drawn on stderr, ends at 100 % with a newline; with --quiet, or when stderr is not a terminal,
 * there is none. The reader's progress callback changes nothing about what is read.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ethernet, ipv4, udp, tcp, pcapFile, ETH_IPV4, PROTO_UDP, PROTO_TCP, TCP_SYN } from './support/packets.js';
import { CaptureFileCounters, readCaptureFile } from '../src/capture/capture-file.js';

const ROOT = resolve(import.meta.dirname, '..');
const hasScript = spawnSync('sh', ['-c', 'command -v script'], { stdio: 'ignore' }).status === 0;
const PACKETS = 40_000;

let dir = '';
let pcap = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-progress-'));
  pcap = join(dir, 'many.pcap');
  const frames = [];
  for (let i = 0; i < PACKETS; i++) {
    const l3 = i % 4 === 0
      ? ipv4({ src: `10.1.${(i >> 8) & 255}.${i & 255}`, dst: '198.51.100.9', proto: PROTO_TCP }, tcp({ sport: 30000 + (i % 20000), dport: 443, seq: i, flags: TCP_SYN }))
      : ipv4({ src: `10.2.${(i >> 8) & 255}.${i & 255}`, dst: '192.0.2.53', proto: PROTO_UDP }, udp({ sport: 1024 + (i % 50000), dport: 53 }, Buffer.alloc(60 + (i % 200))));
    frames.push({ data: ethernet('02:00:00:00:00:01', '02:00:00:00:00:02', ETH_IPV4, l3), tsUs: 1_700_000_000_000_000 + i * 50 });
  }
  writeFileSync(pcap, pcapFile(frames, 1));
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const replayArgs = () => ['--import', 'tsx', 'src/cli.ts', 'replay', pcap, '--emit', 'none', '--without', 'devices,discovery'];

test('on a terminal: a progress line on stderr, redrawn in place, ending at 100 % with the time taken', { skip: hasScript ? false : 'needs script (util-linux)', timeout: 60_000 }, () => {
  const cmd = [process.execPath, ...replayArgs()].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', timeout: 55_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const size = statSync(pcap).size;
  const draws = r.stdout.split('\r').filter((s) => s.startsWith('replay '));
  assert.ok(draws.length >= 2, `at least one line while reading and the final one: ${JSON.stringify(r.stdout.slice(0, 500))}`);
  assert.match(draws[0]!, /^replay \d+\.\d MiB \/ \d+\.\d MiB +\d+%  \d+(\.\d+)?[kM]? pkt\/s  ETA (\d+:\d\d|--:--)\x1b\[K$/, 'first draw, before the end, has an ETA');
  const last = draws.at(-1)!;
  assert.match(last, new RegExp(`^replay ${(size / 1024 / 1024).toFixed(1)} MiB / ${(size / 1024 / 1024).toFixed(1)} MiB 100%  \\d+(\\.\\d+)?[kM]? pkt/s  \\d+:\\d\\d elapsed\\x1b\\[K$`));
  // The terminal turns the final newline into CR LF.
  assert.ok(r.stdout.endsWith('\x1b[K\r\n'), 'the final line ends with a newline');
});

test('--quiet on a terminal: no progress line', { skip: hasScript ? false : 'needs script (util-linux)', timeout: 60_000 }, () => {
  const cmd = [process.execPath, ...replayArgs(), '--quiet'].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', timeout: 55_000 });
  assert.equal(r.status, 0, r.stdout);
  assert.equal(r.stdout, '', 'nothing on the terminal');
});

test('stderr not a terminal: no progress line', { timeout: 60_000 }, () => {
  const r = spawnSync(process.execPath, [...replayArgs(), '--stats'], { cwd: ROOT, encoding: 'utf8', timeout: 55_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!r.stderr.includes('\r') && !r.stderr.includes('replay '), r.stderr.slice(0, 300));
  assert.equal((JSON.parse(r.stderr) as { counters: Record<string, number> }).counters['capture.file_packets'], PACKETS, 'stderr holds only the --stats JSON');
});

test('the reader\'s progress callback reads the same packets, reports growing offsets and ends at the file size', () => {
  const seen = (opts: Parameters<typeof readCaptureFile>[3]) => {
    const lens: number[] = [];
    const counters = new CaptureFileCounters();
    const summary = readCaptureFile(pcap, (_b, _o, capLen) => { lens.push(capLen); }, counters, opts);
    return { lens, summary, counters: counters.snapshot() };
  };
  const plain = seen(undefined);
  const offsets: number[] = [];
  const withProgress = seen({ onProgress: (n) => offsets.push(n), progressEveryPackets: 1000 });
  assert.deepEqual(withProgress.lens, plain.lens);
  assert.deepEqual(withProgress.summary, plain.summary);
  assert.deepEqual(withProgress.counters, plain.counters);
  assert.equal(offsets.length, PACKETS / 1000 + 1, 'one call per 1000 packets and one at the end');
  for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i]! >= offsets[i - 1]!, 'offsets never go back');
  assert.equal(offsets.at(-1), statSync(pcap).size);
});
