import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROGRESS_INTERVAL_MS, ProgressLine, formatBytes, formatDuration, formatRate } from './progress.js';

function recorder(): { out: { write(s: string): void }; text: () => string } {
  let text = '';
  return { out: { write: (s: string) => { text += s; } }, text: () => text };
}

test('redraws at most every PROGRESS_INTERVAL_MS, however often it is called', () => {
  let now = 0;
  const r = recorder();
  const line = new ProgressLine(r.out, 'replay', 10_000_000, () => now);
  // Ten simulated seconds, called every millisecond.
  for (let ms = 0; ms < 10_000; ms++) { now = ms; line.update(ms * 1000, ms * 10); }
  assert.ok(PROGRESS_INTERVAL_MS >= 250);
  assert.equal(line.draws, 10_000 / PROGRESS_INTERVAL_MS, 'four a second');
  assert.equal(r.text().split('\r').length - 1, line.draws, 'each draw starts with a carriage return');
  assert.ok(!r.text().includes('\n'), 'no newline until finish');
  line.finish(10_000_000, 100_000);
  assert.equal(line.draws, 10_000 / PROGRESS_INTERVAL_MS + 1, 'the final line is always drawn');
  assert.ok(r.text().endsWith('\x1b[K\n'));
});

test('the line: bytes of the total, percent, packets/s, ETA; the final line says the time taken', () => {
  let now = 0;
  const line = new ProgressLine({ write: () => {} }, 'replay', 200 * 1024 * 1024, () => now);
  now = 2000;
  // A quarter of the file in 2 s: 6 s left; 500 000 packets in 2 s.
  assert.equal(line.render(now, 50 * 1024 * 1024, 500_000, false), 'replay 50.0 MiB / 200.0 MiB  25%  250k pkt/s  ETA 0:06');
  assert.equal(line.render(now, 0, 0, false), 'replay 0 B / 200.0 MiB   0%  0 pkt/s  ETA --:--');
  assert.equal(line.render(8000, 200 * 1024 * 1024, 2_000_000, true), 'replay 200.0 MiB / 200.0 MiB 100%  250k pkt/s  0:08 elapsed');
  const empty = new ProgressLine({ write: () => {} }, 'replay', 0, () => now);
  assert.match(empty.render(now, 0, 0, true), / 100% /, 'an empty total is done');
});

test('units', () => {
  assert.deepEqual([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(5 * 1024 ** 3)], ['0 B', '1023 B', '1.5 KiB', '5.0 GiB']);
  assert.deepEqual([formatRate(950), formatRate(12_345), formatRate(2_500_000)], ['950', '12k', '2.50M']);
  assert.deepEqual([formatDuration(0), formatDuration(59_400), formatDuration(61_000), formatDuration(3_725_000)], ['0:00', '0:59', '1:01', '1:02:05']);
});
