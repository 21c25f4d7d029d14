/**
 * Builds the inline verdict path's addon (native/nfq.c, N-API) with node-gyp, run by
 * `npm run build` after tsc, and copies it to dist/native/outpost_nfq.node (dist/ is what the npm
 * package and the .deb ship).
 *
 * A machine without libnetfilter_queue's headers (Debian: libnetfilter-queue-dev) or without a
 * C compiler still builds the rest of Outpost: this script says so and exits 0, and inline mode
 * then refuses to start with CONTROL_INLINE_NATIVE_UNAVAILABLE (src/errors.ts). Set
 * OUTPOST_NATIVE_REQUIRED=1 (CI does) to make a failed addon build fail the build.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const required = process.env.OUTPOST_NATIVE_REQUIRED === '1';

function skip(reason) {
  const msg = `native: outpost_nfq addon not built (${reason}); inline mode (control.inline) will refuse to start`;
  if (required) { console.error(msg); process.exit(1); }
  console.warn(msg);
  process.exit(0);
}

if (process.platform !== 'linux') skip('NFQUEUE is Linux only');
if (!existsSync('/usr/include/libnetfilter_queue/libnetfilter_queue.h')) skip('libnetfilter-queue-dev is not installed');

/** node-gyp as npm ships it (no extra dependency), found beside the npm that runs us. */
function nodeGyp() {
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim() !== '') {
    const npmBin = realpathSync(which.stdout.trim());
    candidates.push(join(dirname(npmBin), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  return candidates.find((c) => existsSync(c));
}

const gyp = nodeGyp();
if (gyp === undefined) skip('node-gyp (shipped with npm) not found');
const args = [gyp, 'rebuild', '--loglevel=warn'];
// Headers of the running Node where the distribution installs them (NodeSource, Debian): no
// download, so an offline build works.
const nodeDir = resolve(dirname(process.execPath), '..');
if (existsSync(join(nodeDir, 'include', 'node', 'common.gypi'))) args.push(`--nodedir=${nodeDir}`);
const r = spawnSync(process.execPath, args, { cwd: here, stdio: 'inherit' });
if (r.status !== 0) skip(`node-gyp exited with ${r.status}`);
const built = join(here, 'build', 'Release', 'outpost_nfq.node');
if (!existsSync(built)) skip('node-gyp produced no outpost_nfq.node');
mkdirSync(join(root, 'dist', 'native'), { recursive: true });
copyFileSync(built, join(root, 'dist', 'native', 'outpost_nfq.node'));
console.log('native: dist/native/outpost_nfq.node built');
