// tapwire as a library: the switch core (Fdb, Bridge), the data plane over injectable I/O and devices,
// the wire vocabulary, and the daemon's control plane.
export { Fdb, FDB_DEFAULTS, AGING_SECONDS_RANGE } from './bridge/fdb.js';
export type { FdbEntry, FdbOptions, FdbStats } from './bridge/fdb.js';
export { Bridge } from './bridge/bridge.js';
export type { BridgeOptions, BridgeStats } from './bridge/bridge.js';
export { DROP_REASONS } from './ports/drop-reason.js';
export type { DropReason } from './ports/drop-reason.js';
export type { Port, PortSink, SwitchPort, TxTally } from './ports/port.js';
export { Verdict } from './ports/verdict.js';
export { DataPlane } from './dataplane/dataplane.js';
export type { DataPlaneDeps } from './dataplane/dataplane.js';
export { CounterBlock } from './dataplane/counters.js';
export type { PortCounters, BridgeCounters } from './dataplane/counters.js';
export { nativeIo, IO_SIZES } from './ports/batch-io.js';
export type { Io, IoFactory } from './ports/batch-io.js';
export type { PortDevices, TapSpec, TunSpec, VmSpec, NetdevSpec, SocketSpec } from './ports/devices.js';
export { realDevices } from './dataplane/devices.js';
export { Daemon } from './daemon/daemon.js';
export { bridgeSpec, portSpec, topology } from './daemon/specs.js';
export { TwError, ERRORS } from './errors.js';
export type { ErrorCode } from './errors.js';
export * as ethernet from './wire/ethernet.js';
export * as virtioNet from './wire/virtio-net.js';
export { parseCidr } from './wire/cidr.js';
export type { Cidr } from './wire/cidr.js';
