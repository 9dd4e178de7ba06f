// tapwire as a library: the switch core (Fdb, Bridge), the data plane over injectable I/O and devices,
// the wire vocabulary, and the daemon's control plane.
export { Fdb, FDB_DEFAULTS, AGING_SECONDS_RANGE } from './bridge/fdb.js';
export type { FdbEntry, FdbOptions, FdbStats } from './bridge/fdb.js';
export { Bridge } from './bridge/bridge.js';
export type { BridgeOptions, BridgeStats } from './bridge/bridge.js';
export { DROP_REASONS } from './ports/drop-reason.js';
export type { DropReason, DropSink } from './ports/drop-reason.js';
export type { SwitchPort } from './ports/port.js';
export { DataPlane } from './dataplane/dataplane.js';
export type { DataPlaneDeps } from './dataplane/dataplane.js';
export { CounterBlock } from './dataplane/counters.js';
export type { PortCounters, BridgeCounters } from './dataplane/counters.js';
export { nativeIo, IO_SIZES } from './dataplane/io.js';
export type { Io, IoFactory } from './dataplane/io.js';
export { FakeIo } from './dataplane/fake-io.js';
export { openTapDevice } from './tap/tap-device.js';
export type { TapSpec, Device, TapOpener } from './tap/tap-device.js';
export { FakeTaps } from './tap/fake-tap.js';
export { Daemon } from './daemon/daemon.js';
export { bridgeSpec, portSpec, topology } from './daemon/specs.js';
export { TwError, ERRORS } from './errors.js';
export type { ErrorCode } from './errors.js';
export * as ethernet from './wire/ethernet.js';
export * as virtioNet from './wire/virtio-net.js';
export { parseCidr } from './wire/cidr.js';
export type { Cidr } from './wire/cidr.js';
