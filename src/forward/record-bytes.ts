/**
 * A record's JSON as bytes, for sinks that write bytes (HTTPS bodies, NATS frames, the syslog
 * format worker's input): copied from the outbox's block where the record was read from one
 * (OutboxRecord.copyJson), encoded from `json` otherwise. Structural and free of imports, so that
 * the syslog worker, which must not load the outbox (and LMDB), can use it too.
 */
export interface JsonRecord {
  json: string;
  readonly jsonBytes?: number;
  copyJson?(target: Buffer, offset: number): number;
}

/** UTF-8 length of a record's JSON (the stored length where the outbox has the bytes). */
export function jsonByteLength(r: JsonRecord): number {
  return r.jsonBytes ?? Buffer.byteLength(r.json);
}

/** Writes a record's JSON into `target` at `offset`; returns the bytes written. */
export function writeJson(r: JsonRecord, target: Buffer, offset: number): number {
  return r.copyJson ? r.copyJson(target, offset) : target.write(r.json, offset, 'utf8');
}
