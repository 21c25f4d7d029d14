/**
 * Worker thread of the syslog sink (see syslog-format.ts): frames each batch it is sent and
 * transfers the buffer back (no copy; SyslogFormatter.frames never uses Buffer's shared pool).
 * Buffers go round: the output buffers come back with later requests once the sink has written
 * them (`recycle`), and each request's input bytes go back with its reply (`input`), so that a
 * steady stream of batches allocates no new ones (../buffer-pool.ts says why that matters).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SyslogFormatter, requestJsons, type FormatReply, type FormatRequest, type SyslogFormatSettings } from './syslog-format.js';
import { OutpostError } from '../../errors.js';
import { BufferPool } from '../buffer-pool.js';

const port = parentPort;
if (!port) throw new OutpostError('INTERNAL', { reason: 'syslog-worker.js runs as a worker thread of the syslog sink' });
const out = new BufferPool();
const formatter = new SyslogFormatter(workerData as SyslogFormatSettings, out);

port.on('message', (m: FormatRequest) => {
  const before = formatter.unparsable;
  const beforeWithout = formatter.withoutLine;
  let reply: FormatReply;
  let transfer: ArrayBuffer[] = [];
  for (const ab of m.recycle ?? []) out.give(ab);
  try {
    const jsons = requestJsons(m);
    if (m.packed) {
      const { buf, ends } = formatter.packed(jsons, m.uids);
      reply = { id: m.id, buffer: buf.buffer as ArrayBuffer, offset: buf.byteOffset, length: buf.length, ends: ends!, unparsable: formatter.unparsable - before, withoutLine: formatter.withoutLine - beforeWithout };
      transfer = [buf.buffer as ArrayBuffer, ends!.buffer as ArrayBuffer];
    } else {
      const buf = formatter.frames(jsons, m.uids);
      reply = { id: m.id, buffer: buf.buffer as ArrayBuffer, offset: buf.byteOffset, length: buf.length, unparsable: formatter.unparsable - before, withoutLine: formatter.withoutLine - beforeWithout };
      transfer = [buf.buffer as ArrayBuffer];
    }
  } catch (err) {
    reply = { id: m.id, error: err instanceof Error ? err.message : String(err) };
  }
  // The input was decoded into strings above: its bytes go back to the sender's pool.
  if (m.bytes && m.bytes.byteLength > 0) {
    reply.input = m.bytes;
    transfer.push(m.bytes);
  }
  port.postMessage(reply, transfer);
});
