/**
 * Worker thread of the syslog sink (see syslog-format.ts): frames each batch it is sent and
 * transfers the buffer back (no copy; SyslogFormatter.frames never uses Buffer's shared pool).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SyslogFormatter, requestJsons, type FormatReply, type FormatRequest, type SyslogFormatSettings } from './syslog-format.js';
import { OutpostError } from '../../errors.js';

const port = parentPort;
if (!port) throw new OutpostError('INTERNAL', { reason: 'syslog-worker.js runs as a worker thread of the syslog sink' });
const formatter = new SyslogFormatter(workerData as SyslogFormatSettings);

port.on('message', (m: FormatRequest) => {
  const before = formatter.unparsable;
  const beforeWithout = formatter.withoutLine;
  let reply: FormatReply;
  let transfer: ArrayBuffer[] = [];
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
  port.postMessage(reply, transfer);
});
