// How the router's packets leave: RouterOutput is the seam to the data plane (transmit a frame out of a
// router interface, report a dropped packet), and LinkOutput puts the link-layer framing the interface needs
// around an IP packet before handing it over: an Ethernet header on a bridge interface (written in place
// when the received frame already had one there, else the packet is copied behind a new one), nothing on a
// TUN (the virtio-net header moves up to the IP header, in place). The virtio-net header travels with the
// packet, its offsets shifted to the new framing (offload.ts).
import { put16 } from '../wire/bytes.js';
import { ETH, writeMac } from '../wire/ethernet.js';
import { VNET_HDR_LEN } from '../wire/virtio-net.js';
import type { Iface } from './interfaces.js';
import { shiftVnet } from './offload.js';
import type { RouterDropReason } from './stats.js';

/** RouterOutput is how the router sends: the data plane implements it. */
export interface RouterOutput {
  /**
   * transmit sends `len` bytes at buf[off]: a virtio-net header, then an Ethernet frame (bridge interface)
   * or an IP packet (TUN interface), out of router interface `iface`. `segmentLen` is the IP length of
   * the segments of a GSO frame (0 otherwise). When `buf` is the receive arena the data plane may queue the
   * write and send it after the batch; any other buffer is written before transmit returns.
   */
  transmit(iface: number, buf: Uint8Array, off: number, len: number, segmentLen: number): void;
  /** drop reports one packet the router discards; the data plane counts it (one place counts). */
  drop(reason: RouterDropReason): void;
}

/** FRAME_SLOT holds the largest frame the router builds: a 64 KiB GSO packet behind its vnet and Ethernet headers. */
export const FRAME_SLOT = 66048;

/** LinkOutput frames the router's packets for their egress interface and hands them to RouterOutput. */
export class LinkOutput {
  /** scratch builds frames that cannot be framed in place; it is free again when transmit returns. */
  private readonly scratch = new Uint8Array(FRAME_SLOT);

  constructor(private readonly out: RouterOutput) {}

  /** drop reports a discarded packet (once per packet: the caller's rule). */
  drop(reason: RouterDropReason): void {
    this.out.drop(reason);
  }

  /**
   * toBridge sends the IP packet of `len` bytes at buf[ip] (its vnet header at buf[vnet]) out of bridge
   * interface `out` to `mac`: in place when an Ethernet header is already in front of it.
   */
  toBridge(out: Iface, mac: number, etherType: number, buf: Uint8Array, vnet: number, ip: number, len: number, segmentLen: number): void {
    const l2 = ip - vnet - VNET_HDR_LEN;
    let frame = buf;
    let at = vnet;
    if (l2 !== ETH.HEADER_LEN) {
      frame = this.scratch;
      at = 0;
      frame.set(buf.subarray(vnet, vnet + VNET_HDR_LEN), 0);
      shiftVnet(frame, 0, ETH.HEADER_LEN - l2);
      frame.set(buf.subarray(ip, ip + len), VNET_HDR_LEN + ETH.HEADER_LEN);
    }
    const eth = at + VNET_HDR_LEN;
    writeMac(mac, frame, eth + ETH.DST);
    writeMac(out.mac, frame, eth + ETH.SRC);
    put16(frame, eth + ETH.TYPE, etherType);
    this.out.transmit(out.id, frame, at, VNET_HDR_LEN + ETH.HEADER_LEN + len, segmentLen);
  }

  /** toTun sends an IP packet out of a TUN interface: the vnet header moves up to the IP header in place. */
  toTun(out: Iface, buf: Uint8Array, vnet: number, ip: number, len: number, segmentLen: number): void {
    const l2 = ip - vnet - VNET_HDR_LEN;
    if (l2 > 0) {
      buf.copyWithin(ip - VNET_HDR_LEN, vnet, vnet + VNET_HDR_LEN);
      shiftVnet(buf, ip - VNET_HDR_LEN, -l2);
    }
    this.out.transmit(out.id, buf, ip - VNET_HDR_LEN, VNET_HDR_LEN + len, segmentLen);
  }

  /** sendFrame sends `payload` (ARP, NDP: never offloaded) in an Ethernet frame from the interface's MAC to `dstMac`. */
  sendFrame(ifc: Iface, dstMac: number, etherType: number, payload: Uint8Array): void {
    const s = this.scratch;
    s.fill(0, 0, VNET_HDR_LEN);
    const eth = VNET_HDR_LEN;
    writeMac(dstMac, s, eth + ETH.DST);
    writeMac(ifc.mac, s, eth + ETH.SRC);
    put16(s, eth + ETH.TYPE, etherType);
    s.set(payload, eth + ETH.HEADER_LEN);
    this.out.transmit(ifc.id, s, 0, VNET_HDR_LEN + ETH.HEADER_LEN + payload.length, 0);
  }
}
