import { ParseStatus } from '../parse-status.js';
import { RadiusCode, RadiusError, RadiusMessage } from './radius.js';

/** RADIUS counters (documented in README.md). */
export class RadiusCounters {
  messages = 0; accountingRequests = 0; accountingResponses = 0; accessPackets = 0;
  truncated = 0; badLength = 0; badAttribute = 0; notRadius = 0;
  logons = 0; unanswered = 0; unmatchedResponses = 0;

  count(st: ParseStatus, m: RadiusMessage): void {
    if (st === ParseStatus.NOT_MINE) { this.notRadius++; return; }
    if (st !== ParseStatus.OK) {
      if (m.error === RadiusError.TRUNCATED) this.truncated++;
      else if (m.error === RadiusError.BAD_LENGTH) this.badLength++;
      else this.badAttribute++;
      return;
    }
    this.messages++;
    if (m.code === RadiusCode.ACCOUNTING_REQUEST) this.accountingRequests++;
    else if (m.code === RadiusCode.ACCOUNTING_RESPONSE) this.accountingResponses++;
    else this.accessPackets++;
  }

  snapshot(): Record<string, number> {
    return {
      'radius.messages': this.messages, 'radius.accounting_requests': this.accountingRequests,
      'radius.accounting_responses': this.accountingResponses, 'radius.access_packets': this.accessPackets,
      'radius.truncated': this.truncated, 'radius.bad_length': this.badLength, 'radius.bad_attribute': this.badAttribute,
      'radius.not_radius': this.notRadius, 'radius.logons': this.logons, 'radius.unanswered': this.unanswered,
      'radius.unmatched_responses': this.unmatchedResponses,
    };
  }
}
