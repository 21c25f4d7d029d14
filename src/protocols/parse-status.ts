/**
 * Result of a pure protocol parser `(buf, offset, end, out) → ParseStatus`.
 *
 * Parsers read only `buf[offset, end)`, write only `out`, never throw, log, allocate per packet
 * or read the clock. A MALFORMED result leaves a reason code in `out.error` for the caller to
 * count under a stable dotted counter name.
 */
export const enum ParseStatus {
  /** The structure was parsed; `out` holds it. */
  OK = 0,
  /** Consistent so far but the bytes end early: call again with more data. */
  NEED_MORE = 1,
  /** Lengths or fields are inconsistent: counted, the data is not used. */
  MALFORMED = 2,
  /** The bytes are not this protocol (or not this message): not an error. */
  NOT_MINE = 3,
}
