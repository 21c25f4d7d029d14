/**
 * DHCP counters (stable dotted names, documented in ./README.md). Plain numbers bumped on the hot
 * path; `snapshot()` builds the names only when asked.
 */
import { Dhcp4Error } from './dhcp4.js';
import { Dhcp6Error } from './dhcp6.js';

export class DhcpCounters {
  v4Messages = 0;
  v4Truncated = 0;
  v4OptionTruncated = 0;
  v4OptionBadLength = 0;
  v4NoMessageType = 0;
  v4BadOp = 0;
  v4NotDhcp = 0;
  v4OptionRepeated = 0;
  v4NotEthernet = 0;
  /** Option 82 sub-options running past the option's end (RFC 3046 §2.0). */
  v4RelayAgentTruncated = 0;
  v6Messages = 0;
  v6Truncated = 0;
  v6OptionTruncated = 0;
  v6RelayTooDeep = 0;
  v6NotDhcp = 0;
  /** IA Addresses beyond DHCP6_MAX_IA_ADDRESSES in one message (not malformed; not kept). */
  v6IaAddressesDropped = 0;

  countV4(e: Dhcp4Error): void {
    switch (e) {
      case Dhcp4Error.TRUNCATED: this.v4Truncated++; break;
      case Dhcp4Error.OPTION_TRUNCATED: this.v4OptionTruncated++; break;
      case Dhcp4Error.OPTION_BAD_LENGTH: this.v4OptionBadLength++; break;
      case Dhcp4Error.NO_MESSAGE_TYPE: this.v4NoMessageType++; break;
      case Dhcp4Error.BAD_OP: this.v4BadOp++; break;
      default: break;
    }
  }

  countV6(e: Dhcp6Error): void {
    switch (e) {
      case Dhcp6Error.TRUNCATED: this.v6Truncated++; break;
      case Dhcp6Error.OPTION_TRUNCATED: this.v6OptionTruncated++; break;
      case Dhcp6Error.RELAY_TOO_DEEP: this.v6RelayTooDeep++; break;
      default: break;
    }
  }

  snapshot(): Record<string, number> {
    return {
      'dhcp.v4.messages': this.v4Messages,
      'dhcp.v4.malformed.truncated': this.v4Truncated,
      'dhcp.v4.malformed.option_truncated': this.v4OptionTruncated,
      'dhcp.v4.malformed.option_bad_length': this.v4OptionBadLength,
      'dhcp.v4.malformed.no_message_type': this.v4NoMessageType,
      'dhcp.v4.malformed.bad_op': this.v4BadOp,
      'dhcp.v4.not_dhcp': this.v4NotDhcp,
      'dhcp.v4.option_repeated': this.v4OptionRepeated,
      'dhcp.v4.not_ethernet': this.v4NotEthernet,
      'dhcp.v4.malformed.relay_agent_truncated': this.v4RelayAgentTruncated,
      'dhcp.v6.messages': this.v6Messages,
      'dhcp.v6.malformed.truncated': this.v6Truncated,
      'dhcp.v6.malformed.option_truncated': this.v6OptionTruncated,
      'dhcp.v6.malformed.relay_too_deep': this.v6RelayTooDeep,
      'dhcp.v6.not_dhcp': this.v6NotDhcp,
      'dhcp.v6.ia_addresses_dropped': this.v6IaAddressesDropped,
    };
  }
}
