// Where a process's time went, by thread: preload it into any node process
//   node -r ./bench/thread-cpu.cjs dist/cli.js replay FILE --emit none --stats
// and at exit it prints one line on stderr:
//   THREADS {"wall":…,"cpu":…,"mainCpu":…,"mainWait":…,"mainOff":…,"vcs":…,"ncs":…,"helpers":…,…}
// wall: ms since the preload ran; cpu: user + sys of the process (getrusage); mainCpu / mainWait:
// the main thread's time on a CPU and waiting in the run queue (/proc/self/task/<tid>/schedstat);
// mainOff = wall - mainCpu - mainWait, the main thread's time blocked (I/O, locks, sleeps);
// vcs / ncs: its voluntary / involuntary context switches; helpers: CPU ms of every other
// thread (V8's compiler and GC workers, libuv, LMDB). Linux only (reads /proc). Plain CommonJS
// so that it runs before, and apart from, the code it measures.
'use strict';
const fs = require('node:fs');

const t0 = process.hrtime.bigint();
process.on('exit', () => {
  let main = null;
  let helpers = 0;
  let threads = 0;
  const self = String(process.pid);
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const sched = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').trim().split(' ');
      if (tid === self) {
        const status = fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
        main = {
          cpu: Number(sched[0]) / 1e6,
          wait: Number(sched[1]) / 1e6,
          vcs: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1]),
          ncs: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1]),
        };
      } else {
        helpers += Number(sched[0]) / 1e6;
        threads++;
      }
    } catch {
      // A thread that ended while the list was read.
    }
  }
  if (main === null) return;
  const ru = process.resourceUsage();
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stderr.write(`THREADS ${JSON.stringify({
    wall: Math.round(wall),
    cpu: Math.round((ru.userCPUTime + ru.systemCPUTime) / 1000),
    mainCpu: Math.round(main.cpu),
    mainWait: Math.round(main.wait),
    mainOff: Math.round(wall - main.cpu - main.wait),
    vcs: main.vcs,
    ncs: main.ncs,
    helpers: Math.round(helpers),
    helperThreads: threads,
    maxRssMiB: Math.round(ru.maxRSS / 1024),
    minorFaults: ru.minorPageFault,
  })}\n`);
});
