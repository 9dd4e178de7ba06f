// The router's ARP (RFC 826) on its bridge interfaces: it answers requests for its own addresses, feeds
// what ARP packets say into the neighbor cache (by RFC 826's merge rule: any ARP from a known on-link
// sender updates it, only one addressed to us creates an entry; a sender that claims a router address or
// sits off the interface's subnets is not learned), sends the requests the cache asks for (broadcast, or
// unicast to the cached MAC when probing), and announces its addresses when an interface comes up
// (gratuitous ARP, RFC 5227 3) so hosts that cached an old MAC for an address update it.
import { ARP_OP, emitArp, parseArp } from '../wire/arp.js';
import { BROADCAST, ETHERTYPE } from '../wire/ethernet.js';
import { sameSubnet4, type Iface, type RouterInterfaces } from './interfaces.js';
import type { NeighborCache } from './neighbors.js';
import type { LinkOutput } from './output.js';
import { R } from './stats.js';

/** Arp is the router's ARP responder and requester; see the comment at the top of this file. */
export class Arp<P> {
  constructor(
    private readonly ifaces: RouterInterfaces,
    private readonly neighbors: NeighborCache<P>,
    private readonly link: LinkOutput,
    private readonly c: Float64Array,
    private readonly base: number,
  ) {}

  /** receive handles the ARP packet of `avail` bytes at buf[off] that reached bridge interface `ifc`. */
  receive(ifc: Iface, buf: Uint8Array, off: number, avail: number, now: number): void {
    this.c[this.base + R.arpReceived]!++;
    const a = parseArp(buf, off, avail);
    if (a === null) return this.link.drop('bad_arp');
    const ours = ifc.v4.some((x) => x.addr === a.targetIp);
    if (a.senderIp !== 0 && !this.ifaces.isOwn4(a.senderIp) && this.ifaces.onLink4(ifc, a.senderIp)) {
      this.neighbors.learn4(ifc.id, a.senderIp, a.senderMac, now, { solicited: a.op === ARP_OP.REPLY && ours, override: true, create: ours });
    }
    if (a.op === ARP_OP.REQUEST && ours && a.senderIp !== a.targetIp) {
      this.send(ifc, ARP_OP.REPLY, a.targetIp, a.senderMac, a.senderIp, a.senderMac);
    }
  }

  /** request asks for `target` out of `ifc`, from the interface address on its subnet; `unicastMac` -1 broadcasts. */
  request(ifc: Iface, target: number, unicastMac: number): void {
    const from = ifc.v4.find((a) => sameSubnet4(a, target)) ?? ifc.v4[0];
    if (from === undefined) return;
    this.send(ifc, ARP_OP.REQUEST, from.addr, unicastMac >= 0 ? unicastMac : BROADCAST, target, 0);
  }

  /** announce broadcasts a gratuitous ARP request for each IPv4 address of `ifc`. */
  announce(ifc: Iface): void {
    for (const a of ifc.v4) this.send(ifc, ARP_OP.REQUEST, a.addr, BROADCAST, a.addr, BROADCAST);
  }

  private send(ifc: Iface, op: number, senderIp: number, dstMac: number, targetIp: number, targetMac: number): void {
    const body = emitArp({ op, senderMac: ifc.mac, senderIp, targetMac: targetMac === BROADCAST ? 0 : targetMac, targetIp });
    this.c[this.base + R.arpSent]!++;
    this.link.sendFrame(ifc, dstMac, ETHERTYPE.ARP, body);
  }
}
