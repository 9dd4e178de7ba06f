// Interface addresses in CIDR notation ("10.0.0.1/24", "fd00::1/64"), parsed with the ip-address library.
import { Address4, Address6 } from 'ip-address';

/** Cidr is an interface address with its prefix length. */
export interface Cidr {
  family: 4 | 6;
  /** address holds 4 or 16 bytes in network order. */
  address: Uint8Array;
  prefixLength: number;
  /** text is the canonical notation, e.g. "fd00::1/64". */
  text: string;
}

/** parseCidr parses an address with a prefix length; it throws a RangeError on anything else. */
export function parseCidr(text: string): Cidr {
  if (typeof text !== 'string' || !text.includes('/')) throw new RangeError(`not an address with a prefix length: ${JSON.stringify(text)}`);
  const [addr, len] = text.split('/') as [string, string];
  if (!/^\d{1,3}$/.test(len)) throw new RangeError(`bad prefix length in ${JSON.stringify(text)}`);
  const prefixLength = Number(len);
  if (Address4.isValid(addr) && /^\d{1,3}(\.\d{1,3}){3}$/.test(addr)) {
    if (prefixLength > 32) throw new RangeError(`IPv4 prefix length above 32 in ${JSON.stringify(text)}`);
    const a = new Address4(addr);
    return { family: 4, address: Uint8Array.from(a.toArray()), prefixLength, text: `${a.correctForm()}/${prefixLength}` };
  }
  if (Address6.isValid(addr) && !addr.includes('%')) {
    if (prefixLength > 128) throw new RangeError(`IPv6 prefix length above 128 in ${JSON.stringify(text)}`);
    const a = new Address6(addr);
    const bytes = a.toUnsignedByteArray();
    const address = new Uint8Array(16);
    address.set(bytes, 16 - bytes.length);
    return { family: 6, address, prefixLength, text: `${a.correctForm()}/${prefixLength}` };
  }
  throw new RangeError(`not an IPv4 or IPv6 address: ${JSON.stringify(addr)}`);
}
