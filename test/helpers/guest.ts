// Guest: the tiny test VM of scripts/build-guest.sh, booted under QEMU (TCG) or User-Mode Linux. The guest's
// /init reads tw.* kernel parameters (see the script's header), configures its one NIC, pings, moves data over
// TCP to and from a TcpPeer, and prints one marker line: `TWGUEST PASS` or `TWGUEST FAIL <reason>`.
// Every emulator runs in its own process group and is killed (the whole group, SIGKILL) on timeout, on
// stop() and after its marker, so no boot outlives its test. Run as a program (`node guest.js peer HOST PORT`),
// this file is the TCP peer that the guest's tw.tcptx / tw.tcprx talk to.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** BUILD_SCRIPT is scripts/build-guest.sh of this checkout (this file runs from dist/test/helpers/). */
export const BUILD_SCRIPT = fileURLToPath(new URL('../../../scripts/build-guest.sh', import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);

/** GuestImage is what scripts/build-guest.sh left in its cache. */
export interface GuestImage {
  /** dir is the cache directory. */
  dir: string;
  /** kernel is the x86-64 vmlinuz for QEMU. */
  kernel: string;
  /** initrd is the busybox initramfs, shared by QEMU and UML. */
  initrd: string;
  /** kernelVersion is the release of `kernel` (e.g. 6.1.0-56-amd64). */
  kernelVersion: string;
  /** uml is the User-Mode Linux kernel binary. */
  uml: string;
  /** umlVersion is the release of the UML kernel (e.g. 6.1.176). */
  umlVersion: string;
}

let ensured: Promise<GuestImage> | undefined;

/**
 * ensureGuest builds (or finds complete) the guest cache and returns its paths. The cache dir is
 * $TAPWIRE_GUEST_CACHE or /var/cache/tapwire-guest; a build installs packages and downloads a kernel from
 * Debian (about 15 s), a complete cache answers at once. One build per process.
 */
export function ensureGuest(cacheDir?: string): Promise<GuestImage> {
  if (cacheDir !== undefined) return buildGuest(cacheDir);
  ensured ??= buildGuest(undefined).catch((e: unknown) => {
    ensured = undefined;
    throw e;
  });
  return ensured;
}

async function buildGuest(cacheDir: string | undefined): Promise<GuestImage> {
  const args = cacheDir === undefined ? [BUILD_SCRIPT] : [BUILD_SCRIPT, cacheDir];
  let stdout: string;
  try {
    ({ stdout } = await execFileP('bash', args, { timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }));
  } catch (e) {
    const err = e as Error & { stderr?: string; code?: number | string };
    throw new Error(`build-guest.sh failed (${err.code ?? '?'}): ${(err.stderr ?? err.message).slice(-4000)}`);
  }
  const dir = stdout.trim().split('\n').pop() ?? '';
  const json = JSON.parse(readFileSync(join(dir, 'guest.json'), 'utf8')) as Omit<GuestImage, 'dir'>;
  return { dir, ...json };
}

/** TcpTransfer is a guest's bulk TCP transfer against a TcpPeer: HOST:PORT and a byte count. */
export interface TcpTransfer {
  host: string;
  port: number;
  bytes: number;
}

/** GuestParams are the guest's tw.* kernel parameters (scripts/build-guest.sh documents each). */
export interface GuestParams {
  /** ip is ADDR/LEN for the NIC. */
  ip?: string;
  /** iface names the NIC; default: the first that is not loopback (eth0 under QEMU, vec0 under UML). */
  iface?: string;
  mac?: string;
  mtu?: number;
  /** gw is the default gateway. */
  gw?: string;
  /** ping lists addresses that must answer, in order. */
  ping?: string[];
  /** tries is the ping attempts per address (about 1.5 s each; default 30). */
  tries?: number;
  /** tcptx makes the guest send `bytes` random bytes to a TcpPeer and check the peer's count and sha256. */
  tcptx?: TcpTransfer;
  /** tcprx makes the guest fetch `bytes` bytes from a TcpPeer and check count and sha256. */
  tcprx?: TcpTransfer;
  /** holdSeconds keeps the guest running (answering pings) this long after its marker. */
  holdSeconds?: number;
  debug?: boolean;
}

/** guestArgs turns params into tw.* kernel command-line words. */
export function guestArgs(p: GuestParams): string[] {
  const a: string[] = [];
  const put = (k: string, v: string | number | undefined): void => {
    if (v === undefined) return;
    const s = String(v);
    if (s === '' || /[\s"]/.test(s)) throw new Error(`guest parameter tw.${k}=${s} must be a non-empty word`);
    a.push(`tw.${k}=${s}`);
  };
  put('ip', p.ip);
  put('if', p.iface);
  put('mac', p.mac);
  put('mtu', p.mtu);
  put('gw', p.gw);
  if (p.ping !== undefined && p.ping.length > 0) put('ping', p.ping.join(','));
  put('tries', p.tries);
  if (p.tcptx !== undefined) put('tcptx', `${p.tcptx.host}:${p.tcptx.port}:${p.tcptx.bytes}`);
  if (p.tcprx !== undefined) put('tcprx', `${p.tcprx.host}:${p.tcprx.port}:${p.tcprx.bytes}`);
  put('hold', p.holdSeconds);
  if (p.debug === true) put('debug', 1);
  return a;
}

/** BootOptions are what every boot takes, QEMU or UML. */
export interface BootOptions {
  image: GuestImage;
  params: GuestParams;
  /** netns runs the emulator inside this network namespace (`ip netns exec NS ...`). */
  netns?: string;
  /** uid and gid run the emulator as this user and group (setpriv, supplementary groups cleared). */
  uid?: number;
  gid?: number;
  /** fds are open file descriptors handed to the emulator as fd 3, 4, ... (e.g. for `-netdev tap,fd=3`). */
  fds?: number[];
  /** timeoutMs bounds the wait for the marker (default 90 s); then the emulator is killed. */
  timeoutMs?: number;
  /** memMb is the guest's RAM (default 256). */
  memMb?: number;
}

/** QemuOptions add the NIC arguments, e.g. ['-netdev', 'tap,id=n0,ifname=X,script=no,downscript=no', '-device', 'virtio-net-pci,netdev=n0,mac=...']. */
export interface QemuOptions extends BootOptions {
  netdev: string[];
  /** extraArgs are appended to the QEMU command line. */
  extraArgs?: string[];
  /** qemu is the emulator binary (default qemu-system-x86_64). */
  qemu?: string;
}

/** UmlOptions add UML's NIC arguments, e.g. ['vec0:transport=tap,ifname=X,mac=...,gro=1']. */
export interface UmlOptions extends BootOptions {
  net: string[];
  /** extraArgs are appended to the UML command line. */
  extraArgs?: string[];
}

/** GuestResult is the outcome of a boot: the marker (or why there was none) and the console output. */
export interface GuestResult {
  pass: boolean;
  reason?: string;
  /** output is stdout and stderr of the emulator, as lines in arrival order. */
  output: string;
  /** ms is the time from spawn to the marker (or to the exit or timeout that ended the wait). */
  ms: number;
}

/** qemuArgv is the QEMU command line for a boot (TCG, serial console on stdout, no reboot). */
export function qemuArgv(o: QemuOptions): string[] {
  const append = ['console=ttyS0', 'quiet', 'panic=-1', ...guestArgs(o.params)].join(' ');
  return [
    o.qemu ?? 'qemu-system-x86_64',
    '-accel',
    'tcg',
    '-nodefaults',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-m',
    String(o.memMb ?? 256),
    '-kernel',
    o.image.kernel,
    '-initrd',
    o.image.initrd,
    '-append',
    append,
    ...o.netdev,
    ...(o.extraArgs ?? []),
  ];
}

/** umlArgv is the UML command line for a boot; umlDir holds UML's per-run files (umid, mconsole socket). */
export function umlArgv(o: UmlOptions, umlDir: string): string[] {
  return [
    o.image.uml,
    `mem=${o.memMb ?? 256}M`,
    `initrd=${o.image.initrd}`,
    `uml_dir=${umlDir}`,
    // The console (and so the marker) goes to stdout; kernel messages go to stderr.
    'con=null',
    'con0=null,fd:1',
    'quiet',
    // 256 legacy BSD ptys cost UML seconds at boot (every device setup is a host syscall under ptrace).
    'pty.legacy_count=0',
    ...o.net,
    ...guestArgs(o.params),
    ...(o.extraArgs ?? []),
  ];
}

const MARKER = /^TWGUEST (PASS|FAIL)(?: (.*))?$/;
const OUTPUT_CAP = 4 * 1024 * 1024;

/** RunningGuest is a started emulator: `result` settles at its marker, stop() kills it. */
export class RunningGuest {
  /** result resolves at the marker, at the emulator's exit, or at the timeout (never rejects). */
  readonly result: Promise<GuestResult>;
  /** exited resolves when the emulator process is gone. */
  readonly exited: Promise<void>;
  private readonly lines: string[] = [];
  private size = 0;
  private readonly started = Date.now();
  private settle!: (r: GuestResult) => void;
  private settled = false;
  private readonly timer: NodeJS.Timeout;
  private readonly child: ChildProcess;

  constructor(
    argv: string[],
    o: BootOptions,
    private readonly cleanup: () => void = () => undefined,
  ) {
    let cmd = [...argv];
    if (o.uid !== undefined || o.gid !== undefined) {
      const priv = ['setpriv'];
      if (o.uid !== undefined) priv.push(`--reuid=${o.uid}`);
      if (o.gid !== undefined) priv.push(`--regid=${o.gid}`);
      priv.push('--clear-groups', '--');
      cmd = [...priv, ...cmd];
    }
    if (o.netns !== undefined) cmd = ['ip', 'netns', 'exec', o.netns, ...cmd];
    this.result = new Promise((r) => (this.settle = r));
    // Its own process group: UML forks helpers, and killing the group gets them all.
    this.child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe', ...(o.fds ?? [])], detached: true });
    this.exited = new Promise((r) => {
      this.child.once('close', () => r());
      this.child.once('error', () => r());
    });
    this.child.once('error', (e) => this.finish({ pass: false, reason: `cannot start ${cmd[0]}: ${e.message}` }));
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (raw) => this.line(raw));
    }
    void this.exited.then(() => {
      this.finish({ pass: false, reason: `emulator exited (${this.child.exitCode ?? this.child.signalCode}) without a marker` });
      this.cleanup();
    });
    const timeoutMs = o.timeoutMs ?? 90_000;
    this.timer = setTimeout(() => {
      this.finish({ pass: false, reason: `no marker within ${timeoutMs} ms` });
      this.kill();
    }, timeoutMs);
  }

  /** pid is the emulator's process id (and its process group). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** output is the console output so far. */
  output(): string {
    return this.lines.join('\n');
  }

  private line(raw: string): void {
    const text = raw.replace(/\r/g, '');
    if (this.size < OUTPUT_CAP) {
      this.lines.push(text);
      this.size += text.length + 1;
    }
    const m = MARKER.exec(text.trim());
    if (m === null) return;
    this.finish(m[1] === 'PASS' ? { pass: true } : { pass: false, reason: m[2] ?? 'no reason given' });
  }

  private finish(r: { pass: boolean; reason?: string }): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.settle({ ...r, output: this.output(), ms: Date.now() - this.started });
  }

  private kill(): void {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /**
   * stop waits up to graceMs for the emulator to end by itself (the guest powers off after its marker,
   * unless told to hold), then kills its process group; it resolves once the process is gone.
   */
  async stop(graceMs = 0): Promise<void> {
    if (graceMs > 0) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.exited, new Promise((r) => (t = setTimeout(r, graceMs)))]);
      clearTimeout(t);
    }
    this.finish({ pass: false, reason: 'stopped before a marker' });
    this.kill();
    let t: NodeJS.Timeout | undefined;
    const gone = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => (t = setTimeout(() => r(false), 10_000)))]);
    clearTimeout(t);
    if (!gone) throw new Error(`emulator ${this.child.pid} did not end within 10 s of SIGKILL`);
    // UML's helper processes (same group) may outlive the main one by a moment, holding the TAP open: wait
    // until the group is empty, so the next emulator can attach to the same TAP at once.
    const pid = this.child.pid;
    for (let i = 0; pid !== undefined && i < 100 && groupAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** startQemu boots the guest under QEMU and returns at once; the caller must stop() it. */
export function startQemu(o: QemuOptions): RunningGuest {
  return new RunningGuest(qemuArgv(o), o);
}

/** startUml boots the guest under User-Mode Linux and returns at once; the caller must stop() it. */
export function startUml(o: UmlOptions): RunningGuest {
  const umlDir = mkdtempSync(join(tmpdir(), 'tapwire-uml-'));
  try {
    return new RunningGuest(umlArgv(o, umlDir), o, () => rmSync(umlDir, { recursive: true, force: true }));
  } catch (e) {
    rmSync(umlDir, { recursive: true, force: true });
    throw e;
  }
}

/** bootQemu boots the guest under QEMU, waits for its marker, and makes sure QEMU is gone before resolving. */
export async function bootQemu(o: QemuOptions): Promise<GuestResult> {
  return runToEnd(startQemu(o));
}

/** bootUml boots the guest under User-Mode Linux, waits for its marker, and makes sure UML is gone. */
export async function bootUml(o: UmlOptions): Promise<GuestResult> {
  return runToEnd(startUml(o));
}

async function runToEnd(g: RunningGuest): Promise<GuestResult> {
  try {
    const r = await g.result;
    await g.stop(10_000);
    return { ...r, output: g.output() };
  } finally {
    await g.stop();
  }
}

// ---- TCP peer ------------------------------------------------------------------------------------------

/** PeerTransfer is one finished transfer, as the peer logs it. */
export interface PeerTransfer {
  op: 'PUT' | 'GET';
  remote: string;
  /** bytes is what was received (PUT) or sent (GET), not counting protocol lines. */
  bytes: number;
  sha256: string;
  ms: number;
  ok: boolean;
}

/** TcpPeer is the host side of tw.tcptx / tw.tcprx, running in a namespace. */
export interface TcpPeer {
  readonly transfers: PeerTransfer[];
  /** waitFor resolves with the first transfer (past or future) from `remote` with operation `op`. */
  waitFor(op: 'PUT' | 'GET', remote: string, timeoutMs?: number): Promise<PeerTransfer>;
  close(): Promise<void>;
}

/**
 * startTcpPeer runs the peer (this file as a program) inside namespace `netns`, listening on host:port, and
 * resolves once it listens. It exits by itself after lifetimeSeconds (default 900) in case nobody closes it.
 */
export async function startTcpPeer(netns: string, port: number, host = '0.0.0.0', lifetimeSeconds = 900): Promise<TcpPeer> {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, THIS_FILE, 'peer', host, String(port), String(lifetimeSeconds)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const transfers: PeerTransfer[] = [];
  let waiters: { op: string; remote: string; resolve: (t: PeerTransfer) => void }[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const listening = new Promise<void>((resolveListening, reject) => {
    const t = setTimeout(() => reject(new Error(`tcp peer did not listen within 10 s: ${stderr}`)), 10_000);
    child.once('close', (code) => {
      clearTimeout(t);
      reject(new Error(`tcp peer exited (${code}): ${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (text) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      if (msg.listening !== undefined) {
        clearTimeout(t);
        resolveListening();
        return;
      }
      const tr = msg as unknown as PeerTransfer;
      transfers.push(tr);
      waiters = waiters.filter((w) => {
        if (w.op !== tr.op || w.remote !== tr.remote) return true;
        w.resolve(tr);
        return false;
      });
    });
  });
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    await listening;
  } catch (e) {
    await close();
    throw e;
  }
  return {
    transfers,
    close,
    waitFor(op, remote, timeoutMs = 10_000) {
      const done = transfers.find((t) => t.op === op && t.remote === remote);
      if (done !== undefined) return Promise.resolve(done);
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`no ${op} from ${remote} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ op, remote, resolve: (tr) => (clearTimeout(t), res(tr)) });
      });
    },
  };
}

const MAX_TRANSFER = 1024 * 1024 * 1024;

/** servePeer speaks the guest's protocol: `PUT N\n` + N bytes -> `OK <count> <sha256>\n`; `GET N\n` -> N bytes + `<sha256>\n`. */
function servePeer(host: string, port: number, lifetimeSeconds: number): void {
  const log = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
  const server = createServer((sock: Socket) => {
    const remote = sock.remoteAddress?.replace(/^::ffff:/, '') ?? '?';
    const t0 = Date.now();
    sock.setTimeout(120_000, () => sock.destroy());
    sock.on('error', () => undefined);
    let head = Buffer.alloc(0);
    let put: { want: number; got: number; hash: ReturnType<typeof createHash> } | undefined;
    const endPut = (): void => {
      if (put === undefined) return;
      const sha = put.hash.digest('hex');
      const ok = put.got === put.want;
      log({ op: 'PUT', remote, bytes: put.got, sha256: sha, ms: Date.now() - t0, ok });
      sock.end(`${ok ? 'OK' : 'SHORT'} ${put.got} ${sha}\n`);
      put = undefined;
    };
    const body = (chunk: Buffer): void => {
      if (put === undefined) return;
      const take = chunk.subarray(0, put.want - put.got);
      put.hash.update(take);
      put.got += take.length;
      if (put.got === put.want) endPut();
    };
    sock.on('data', (chunk: Buffer) => {
      if (put !== undefined) return body(chunk);
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(0x0a);
      if (nl < 0) {
        if (head.length > 64) sock.destroy();
        return;
      }
      const m = /^(PUT|GET) (\d+)$/.exec(head.subarray(0, nl).toString('latin1'));
      const n = m === null ? NaN : Number(m[2]);
      if (m === null || !(n >= 0 && n <= MAX_TRANSFER)) {
        sock.end('ERR bad request\n');
        return;
      }
      const rest = head.subarray(nl + 1);
      if (m[1] === 'PUT') {
        put = { want: n, got: 0, hash: createHash('sha256') };
        if (n === 0) endPut();
        else body(rest);
        return;
      }
      const data = randomBytes(n);
      const sha = createHash('sha256').update(data).digest('hex');
      sock.write(data);
      sock.end(`${sha}\n`, () => log({ op: 'GET', remote, bytes: n, sha256: sha, ms: Date.now() - t0, ok: true }));
    });
    sock.on('end', endPut);
  });
  server.listen(port, host, () => log({ listening: `${host}:${port}` }));
  setTimeout(() => process.exit(0), lifetimeSeconds * 1000).unref();
  server.on('error', (e) => {
    process.stderr.write(`tcp peer: ${e.message}\n`);
    process.exit(1);
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === THIS_FILE && process.argv[2] === 'peer') {
  servePeer(process.argv[3] ?? '0.0.0.0', Number(process.argv[4] ?? 5001), Number(process.argv[5] ?? 900));
}
