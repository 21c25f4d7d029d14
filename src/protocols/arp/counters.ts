/** ARP and NDP counters with stable dotted names (see ./README.md). */
import { ArpError } from './arp.js';
import { NdpError } from './ndp.js';

export class ArpNdpCounters {
  arpMessages = 0;
  arpGratuitous = 0;
  arpProbes = 0;
  arpTruncated = 0;
  arpBadOperation = 0;
  arpNotEthernetIpv4 = 0;
  /**
   * An ARP or NDP claim (probes excluded) for an address that another device holds at that
   * moment under a different MAC (its binding at the claim's time: open and not expired, or
   * closed later). Counted whether the claim then takes the address or is refused by the order
   * of trust; agent bindings carry no MAC and are not compared. NDP claims count here as well.
   */
  conflicts = 0;
  ndpMessages = 0;
  ndpTruncated = 0;
  ndpOptionZeroLength = 0;
  ndpOptionTruncated = 0;
  ndpTooManyOptions = 0;
  /** NS from the unspecified address (DAD, RFC 4862 §5.4): no binding. */
  ndpDad = 0;

  countArp(e: ArpError): void {
    if (e === ArpError.TRUNCATED) this.arpTruncated++;
    else if (e === ArpError.BAD_OPERATION) this.arpBadOperation++;
  }

  countNdp(e: NdpError): void {
    switch (e) {
      case NdpError.TRUNCATED: this.ndpTruncated++; break;
      case NdpError.OPTION_ZERO_LENGTH: this.ndpOptionZeroLength++; break;
      case NdpError.OPTION_TRUNCATED: this.ndpOptionTruncated++; break;
      case NdpError.TOO_MANY_OPTIONS: this.ndpTooManyOptions++; break;
      default: break;
    }
  }

  snapshot(): Record<string, number> {
    return {
      'arp.messages': this.arpMessages,
      'arp.gratuitous': this.arpGratuitous,
      'arp.probes': this.arpProbes,
      'arp.malformed.truncated': this.arpTruncated,
      'arp.malformed.bad_operation': this.arpBadOperation,
      'arp.not_ethernet_ipv4': this.arpNotEthernetIpv4,
      'arp.conflicts': this.conflicts,
      'ndp.messages': this.ndpMessages,
      'ndp.malformed.truncated': this.ndpTruncated,
      'ndp.malformed.option_zero_length': this.ndpOptionZeroLength,
      'ndp.malformed.option_truncated': this.ndpOptionTruncated,
      'ndp.malformed.too_many_options': this.ndpTooManyOptions,
      'ndp.dad': this.ndpDad,
    };
  }
}
