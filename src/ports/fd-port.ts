// FdPort: a port whose frames the data plane's native batch loop reads and writes through one fd (a TAP or
// TUN queue, an AF_PACKET socket). The kinds differ only in how the fd is made and what closing it
// releases; this class holds what they share.
import type { DropReason } from './drop-reason.js';
import type { Port, PortKind, PortSink, PortState, TxTally } from './port.js';

/** FdPortInit is what a kind's opener knows once its fd is open. */
export interface FdPortInit {
  index: number;
  kind: PortKind;
  name: string;
  ifname: string;
  fd: number;
  offloads: number;
  mtu: number;
  up: boolean;
  /** release closes the fd (and whatever goes with it); called once. */
  release: () => void;
}

/** FdPort is a Port over one fd polled by the batch loop. */
export class FdPort implements Port {
  readonly index: number;
  readonly kind: PortKind;
  readonly name: string;
  readonly ifname: string;
  readonly fd: number;
  readonly offloads: number;
  mtu: number;
  up: boolean;
  state: PortState;
  protected sink: PortSink | undefined;
  private closed = false;
  private readonly release: () => void;

  constructor(init: FdPortInit) {
    this.index = init.index;
    this.kind = init.kind;
    this.name = init.name;
    this.ifname = init.ifname;
    this.fd = init.fd;
    this.offloads = init.offloads;
    this.mtu = init.mtu;
    this.up = init.up;
    this.state = init.up ? 'up' : 'down';
    this.release = init.release;
  }

  start(sink: PortSink): void {
    this.sink = sink;
  }

  /** send is not used: the batch loop writes an fd port's frames (see Port). */
  send(_buf: Uint8Array, _off: number, _len: number, tally: TxTally): void {
    tally.frames = 0;
    tally.bytes = 0;
    tally.drop = 'write_error' satisfies DropReason;
  }

  /** setState records a new state and reports it (only a change is reported). */
  protected setState(state: PortState, why: string): void {
    this.up = state === 'up';
    if (state === this.state) return;
    this.state = state;
    this.sink?.state(this, state, why);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
  }
}
