// One measured child of `npm run bench` (bench/bench-replay.ts), plain JavaScript so that the
// measured process starts as `node` alone (no TypeScript loader) and reads captures with the
// built reader in dist/, the code that ships:
//   node bench/replay-child.mjs pcap FILE     the `pcap` npm package, one JS callback per packet
//   node bench/replay-child.mjs reader FILE   dist/capture/capture-file.js with a no-op callback
// Prints {"packets":N,"elapsedMs":T} on stdout.
import { createRequire } from 'node:module';

const [mode, file] = process.argv.slice(2);
if (file === undefined || (mode !== 'pcap' && mode !== 'reader')) {
  process.stderr.write('usage: node bench/replay-child.mjs pcap|reader FILE\n');
  process.exit(2);
}
const t0 = process.hrtime.bigint();
const done = (packets) => {
  process.stdout.write(JSON.stringify({ packets, elapsedMs: Number(process.hrtime.bigint() - t0) / 1e6 }) + '\n');
};
if (mode === 'pcap') {
  const pcap = createRequire(import.meta.url)('pcap');
  let packets = 0;
  const session = pcap.createOfflineSession(file);
  session.on('packet', () => { packets++; });
  session.on('complete', () => { session.close(); done(packets); });
} else {
  const { readCaptureFile, CaptureFileCounters } = await import('../dist/capture/capture-file.js');
  const counters = new CaptureFileCounters();
  readCaptureFile(file, () => {}, counters);
  done(counters.packets);
}
