#!/usr/bin/env node
// tapwire: the command-line client of tapwired's REST API. It checks the command line, makes one API call through
// TapwireClient and prints a table, or with --json the server's JSON. Exit status: 0 done; 1 tapwired refused the
// request or could not be reached; 2 bad usage, in which case nothing was sent.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { VERSION } from '../version.js';
import { CliError, TapwireClient, type Target } from './client.js';
import { execWithFd } from './exec.js';
import { fdSocketFor } from '../ports/fd-server.js';
import {
  bridgeDetails,
  bridgeTable,
  fdbTable,
  linkDetails,
  linkTable,
  neighborTable,
  portDetails,
  portTable,
  routeTable,
  routerDetails,
  routerInterfaceDetails,
  routerInterfaceTable,
} from './views.js';

/** DEFAULT_SOCKET is where tapwired listens unless told otherwise. */
export const DEFAULT_SOCKET = '/run/tapwire/tapwired.sock';

// Every option of every command, so that one parse reads them wherever they stand; dispatch then refuses those
// the command does not take. Numbers stay strings here: NUMERIC ones are checked to be numbers, nothing more.
const OPTIONS = {
  socket: { type: 'string' },
  url: { type: 'string' },
  'token-file': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  aging: { type: 'string' },
  'fdb-max': { type: 'string' },
  force: { type: 'boolean' },
  kind: { type: 'string' },
  netns: { type: 'string' },
  ifname: { type: 'string' },
  address: { type: 'string', multiple: true },
  mac: { type: 'string' },
  mtu: { type: 'string' },
  down: { type: 'boolean' },
  peer: { type: 'string' },
  route: { type: 'string', multiple: true },
  bridge: { type: 'string' },
  link: { type: 'string' },
  ra: { type: 'boolean' },
  via: { type: 'string' },
  interface: { type: 'string' },
  owner: { type: 'string' },
  group: { type: 'string' },
  path: { type: 'string' },
  mode: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Values = ReturnType<typeof parse>['values'];

const GLOBAL: readonly OptionName[] = ['socket', 'url', 'token-file', 'json', 'help'];
const NUMERIC: readonly OptionName[] = ['aging', 'fdb-max', 'mtu'];

const OPTION_HELP: Record<OptionName, string> = {
  socket: `--socket PATH      tapwired's unix socket (env TAPWIRE_SOCKET; default ${DEFAULT_SOCKET})`,
  url: '--url URL          use the TCP API at URL instead, e.g. http://10.0.0.1:7070 (env TAPWIRE_URL)',
  'token-file': '--token-file FILE  the bearer token for --url (env TAPWIRE_TOKEN_FILE)',
  json: "--json             print the server's JSON instead of tables",
  help: "-h, --help         print help; after a command, that command's help",
  aging: '--aging SECONDS    how long a learned MAC stays without traffic (default 300)',
  'fdb-max': '--fdb-max N        the most MACs the bridge learns (default 8192)',
  force: "--force            also delete the bridge's ports (else a bridge with ports is refused)",
  kind: '--kind KIND        the kind of port: tap (a TAP the daemon makes), vm (a persistent TAP for an emulator) or netdev (an existing interface)',
  owner: '--owner USER       vm: the user (name or uid) who may attach an emulator to the TAP; socket: who owns the socket file',
  group: "--group GROUP      vm: the group (name or gid) whose members may attach an emulator to the TAP; socket: the socket file's group",
  path: '--path PATH        socket: the unix socket the daemon listens on (QEMU: -netdev stream,server=off,addr.type=unix,addr.path=PATH)',
  mode: '--mode MODE        socket: the framing, stream (the default; QEMU -netdev stream) or dgram (QEMU -netdev dgram)',
  ifname: "--ifname IFNAME     netdev: the existing interface (in the daemon's namespace) to switch",
  netns: '--netns NS         move the netdev (of a TAP port or a link) into this existing network namespace',
  address: "--address CIDR     an address, e.g. 10.0.0.1/24 (repeatable): on the netdev of a port or link; the router's own on a router interface",
  mac: "--mac MAC          the MAC address: of a port's netdev (vm: suggested to the guest), or the router's on a bridge interface",
  mtu: '--mtu N            the MTU (of the netdev, or of the router interface)',
  down: '--down             leave the netdev down (it is brought up by default)',
  peer: "--peer ADDR        make the link's addresses of ADDR's family point-to-point to ADDR (the router's end)",
  route: '--route CIDR       a prefix the host side sends into the link, e.g. 10.0.0.0/8 (repeatable)',
  bridge: '--bridge BRIDGE    the bridge the router interface joins (the router gets a port there)',
  link: '--link LINK        the link the router interface routes over',
  ra: '--ra               send IPv6 router advertisements on the bridge interface',
  via: '--via ADDR         the next hop, on a network of a router interface',
  interface: '--interface NAME   the router interface to send out of',
};

/** account passes a numeric user or group as a number (a uid), anything else as a name. */
function account(value: string | undefined): string | number | undefined {
  return value !== undefined && /^[0-9]+$/.test(value) ? Number(value) : value;
}

/** UsageError is a command line that cannot be run; it exits 2 with help, before anything is sent. */
class UsageError extends Error {
  override name = 'UsageError';
}

/** Output is what a command prints: `json` with --json, else `text`; a command with neither prints nothing. */
interface Output {
  json?: unknown;
  text?: string;
}

/** Command is one `tapwire` command: its synopsis, its positional arguments by name, its own options and its call. */
interface Command<A extends string = string> {
  synopsis: string;
  summary: string;
  args: readonly A[];
  options?: readonly OptionName[];
  run(client: TapwireClient, args: Record<A, string>, values: Values): Promise<Output>;
}

// command keeps the argument names of `c` as literal types, so `run` gets exactly the arguments it declares.
function command<A extends string>(c: Command<A>): Command {
  return c;
}

const number = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));

/** COMMANDS are every command by its words (`health`, `bridge add`, ...), in the order help lists them. */
const COMMANDS: Record<string, Command> = {
  health: command({
    synopsis: 'health',
    summary: 'check that tapwired answers',
    args: [],
    run: async (c) => {
      const h = await c.health();
      return { json: h, text: `${h.status} (tapwired ${h.version} at ${c.where})` };
    },
  }),
  version: command({
    synopsis: 'version',
    summary: "print this client's version and tapwired's",
    args: [],
    run: async (c, _, v) => {
      try {
        const h = await c.health();
        return { json: { cli: VERSION, daemon: h.version }, text: `tapwire ${VERSION}\ntapwired ${h.version}` };
      } catch (e) {
        if (v.json !== true) process.stdout.write(`tapwire ${VERSION}\n`);
        throw e;
      }
    },
  }),
  'bridge add': command({
    synopsis: 'bridge add NAME [--aging SECONDS] [--fdb-max N]',
    summary: 'create a bridge',
    args: ['name'],
    options: ['aging', 'fdb-max'],
    run: async (c, { name }, v) => {
      const b = await c.addBridge({ name, agingSeconds: number(v.aging), fdbMax: number(v['fdb-max']) });
      return { json: b, text: bridgeDetails(b) };
    },
  }),
  'bridge ls': command({
    synopsis: 'bridge ls',
    summary: 'list the bridges',
    args: [],
    run: async (c) => {
      const bridges = await c.listBridges();
      return { json: bridges, text: bridgeTable(bridges) };
    },
  }),
  'bridge show': command({
    synopsis: 'bridge show NAME',
    summary: 'show a bridge, its ports and its FDB counters',
    args: ['name'],
    run: async (c, { name }) => {
      const b = await c.getBridge(name);
      return { json: b, text: bridgeDetails(b) };
    },
  }),
  'bridge set': command({
    synopsis: 'bridge set NAME [--aging SECONDS] [--fdb-max N]',
    summary: "change a bridge's aging time or FDB size cap",
    args: ['name'],
    options: ['aging', 'fdb-max'],
    run: async (c, { name }, v) => {
      if (v.aging === undefined && v['fdb-max'] === undefined) throw new UsageError('bridge set needs --aging or --fdb-max');
      const b = await c.setBridge(name, { agingSeconds: number(v.aging), fdbMax: number(v['fdb-max']) });
      return { json: b, text: bridgeDetails(b) };
    },
  }),
  'bridge rm': command({
    synopsis: 'bridge rm NAME [--force]',
    summary: 'delete a bridge (with --force, its ports too)',
    args: ['name'],
    options: ['force'],
    run: async (c, { name }, v) => {
      await c.removeBridge(name, v.force === true);
      return {};
    },
  }),
  'port add': command({
    synopsis:
      'port add BRIDGE NAME --kind tap [--netns NS] [--address CIDR]... [--mac MAC] [--mtu N] [--down] | --kind vm (--owner USER | --group GROUP)... [--mac MAC] [--mtu N] | --kind netdev --ifname IFNAME | --kind socket --path PATH [--mode stream|dgram] [--owner USER] [--group GROUP] [--mtu N]',
    summary: 'create a port on a bridge',
    args: ['bridge', 'name'],
    options: ['kind', 'netns', 'ifname', 'address', 'mac', 'mtu', 'down', 'owner', 'group', 'path', 'mode'],
    run: async (c, { bridge, name }, v) => {
      if (v.kind === undefined) throw new UsageError('port add needs --kind (tap, vm, netdev or socket)');
      const p = await c.addPort(bridge, {
        name,
        kind: v.kind,
        ifname: v.ifname,
        netns: v.netns,
        addresses: v.address,
        mac: v.mac,
        mtu: number(v.mtu),
        up: v.down === true ? false : undefined,
        owner: account(v.owner),
        group: account(v.group),
        path: v.path,
        mode: v.mode,
      });
      return { json: p, text: portDetails(p) };
    },
  }),
  'port ls': command({
    synopsis: 'port ls BRIDGE',
    summary: 'list the ports of a bridge',
    args: ['bridge'],
    run: async (c, { bridge }) => {
      const ports = await c.listPorts(bridge);
      return { json: ports, text: portTable(ports) };
    },
  }),
  'port show': command({
    synopsis: 'port show BRIDGE NAME',
    summary: 'show a port, its state and its counters',
    args: ['bridge', 'name'],
    run: async (c, { bridge, name }) => {
      const p = await c.getPort(bridge, name);
      return { json: p, text: portDetails(p) };
    },
  }),
  'port rm': command({
    synopsis: 'port rm BRIDGE NAME',
    summary: 'delete a port and its device',
    args: ['bridge', 'name'],
    run: async (c, { bridge, name }) => {
      await c.removePort(bridge, name);
      return {};
    },
  }),
  'fdb ls': command({
    synopsis: 'fdb ls BRIDGE',
    summary: "list a bridge's forwarding database",
    args: ['bridge'],
    run: async (c, { bridge }) => {
      const entries = await c.listFdb(bridge);
      return { json: entries, text: fdbTable(entries) };
    },
  }),
  'fdb add': command({
    synopsis: 'fdb add BRIDGE MAC PORT',
    summary: 'add a static entry: frames for MAC go to PORT',
    args: ['bridge', 'mac', 'port'],
    run: async (c, { bridge, mac, port }) => {
      const e = await c.addFdb(bridge, mac, port);
      return { json: e, text: fdbTable([e]) };
    },
  }),
  'fdb rm': command({
    synopsis: 'fdb rm BRIDGE MAC',
    summary: 'delete the entry of MAC',
    args: ['bridge', 'mac'],
    run: async (c, { bridge, mac }) => {
      await c.removeFdb(bridge, mac);
      return {};
    },
  }),
  'fdb flush': command({
    synopsis: 'fdb flush BRIDGE',
    summary: 'delete every learned entry (static ones stay)',
    args: ['bridge'],
    run: async (c, { bridge }) => {
      const r = await c.flushFdb(bridge);
      return { json: r, text: `flushed ${r.flushed} learned entries from ${bridge}` };
    },
  }),
  'link add': command({
    synopsis: 'link add NAME [--netns NS] [--address CIDR]... [--peer ADDR] [--mtu N] [--route CIDR]...',
    summary: 'create a link: a TUN device whose netdev (in the host or NS) is the host side of a routed link',
    args: ['name'],
    options: ['netns', 'address', 'peer', 'mtu', 'route'],
    run: async (c, { name }, v) => {
      const l = await c.addLink({ name, kind: 'tun', netns: v.netns, addresses: v.address, peer: v.peer, mtu: number(v.mtu), routes: v.route });
      return { json: l, text: linkDetails(l) };
    },
  }),
  'link ls': command({
    synopsis: 'link ls',
    summary: 'list the links',
    args: [],
    run: async (c) => {
      const links = await c.listLinks();
      return { json: links, text: linkTable(links) };
    },
  }),
  'link show': command({
    synopsis: 'link show NAME',
    summary: 'show a link, its state and its counters',
    args: ['name'],
    run: async (c, { name }) => {
      const l = await c.getLink(name);
      return { json: l, text: linkDetails(l) };
    },
  }),
  'link del': command({
    synopsis: 'link del NAME',
    summary: 'delete a link and its device (or: link rm)',
    args: ['name'],
    run: async (c, { name }) => {
      await c.removeLink(name);
      return {};
    },
  }),
  'router show': command({
    synopsis: 'router show',
    summary: "show the router's interface and route counts and its counters",
    args: [],
    run: async (c) => {
      const r = await c.router();
      return { json: r, text: routerDetails(r) };
    },
  }),
  'router iface add': command({
    synopsis: 'router iface add NAME (--bridge BRIDGE | --link LINK) --address CIDR... [--mac MAC] [--ra] [--mtu N]',
    summary: "create a router interface on a bridge or a link, with the router's own addresses",
    args: ['name'],
    options: ['bridge', 'link', 'address', 'mac', 'ra', 'mtu'],
    run: async (c, { name }, v) => {
      if ((v.bridge === undefined) === (v.link === undefined)) throw new UsageError('router iface add needs one of --bridge or --link');
      if (v.address === undefined) throw new UsageError("router iface add needs --address (the router's own, e.g. 10.0.0.254/24)");
      const r = await c.addRouterInterface({
        name,
        bridge: v.bridge,
        link: v.link,
        addresses: v.address,
        mac: v.mac,
        routerAdvertisements: v.ra === true ? true : undefined,
        mtu: number(v.mtu),
      });
      return { json: r, text: routerInterfaceDetails(r) };
    },
  }),
  'router iface ls': command({
    synopsis: 'router iface ls',
    summary: "list the router's interfaces",
    args: [],
    run: async (c) => {
      const list = await c.listRouterInterfaces();
      return { json: list, text: routerInterfaceTable(list) };
    },
  }),
  'router iface show': command({
    synopsis: 'router iface show NAME',
    summary: 'show a router interface and its counters',
    args: ['name'],
    run: async (c, { name }) => {
      const r = await c.getRouterInterface(name);
      return { json: r, text: routerInterfaceDetails(r) };
    },
  }),
  'router iface del': command({
    synopsis: 'router iface del NAME',
    summary: 'delete a router interface and its connected routes (or: router iface rm)',
    args: ['name'],
    run: async (c, { name }) => {
      await c.removeRouterInterface(name);
      return {};
    },
  }),
  'route add': command({
    synopsis: 'route add PREFIX [--via ADDR] [--interface NAME]',
    summary: 'add a static route (at least one of --via and --interface)',
    args: ['prefix'],
    options: ['via', 'interface'],
    run: async (c, { prefix }, v) => {
      if (v.via === undefined && v.interface === undefined) throw new UsageError('route add needs --via or --interface (or both)');
      const r = await c.addRoute({ prefix, via: v.via, interface: v.interface });
      return { json: r, text: routeTable([r]) };
    },
  }),
  'route ls': command({
    synopsis: 'route ls',
    summary: "list the router's routes, connected and static",
    args: [],
    run: async (c) => {
      const routes = await c.listRoutes();
      return { json: routes, text: routeTable(routes) };
    },
  }),
  'route del': command({
    synopsis: 'route del PREFIX',
    summary: 'delete the static route of PREFIX (or: route rm)',
    args: ['prefix'],
    run: async (c, { prefix }) => {
      await c.removeRoute(prefix);
      return {};
    },
  }),
  'neighbor ls': command({
    synopsis: 'neighbor ls',
    summary: "list the router's ARP/NDP cache",
    args: [],
    run: async (c) => {
      const neighbors = await c.listNeighbors();
      return { json: neighbors, text: neighborTable(neighbors) };
    },
  }),
};

/** ALIASES are other words for some commands: `rm` for the router's `del`, as for bridges and ports. */
const ALIASES: Record<string, string> = {
  'link rm': 'link del',
  'router iface rm': 'router iface del',
  'route rm': 'route del',
};

const GROUPS = new Set(Object.keys(COMMANDS).map((k) => k.split(' ')[0]));

// isGroup tells whether `words` start some command's words without being all of them ("router iface").
function isGroup(words: string): boolean {
  return Object.keys(COMMANDS).some((k) => k.startsWith(`${words} `));
}

// lookup finds the command the positionals start with (the longest match: "router iface add" before "router").
function lookup(positionals: readonly string[]): string | undefined {
  for (let n = Math.min(3, positionals.length); n >= 1; n--) {
    const k = positionals.slice(0, n).join(' ');
    if (Object.hasOwn(COMMANDS, k) || Object.hasOwn(ALIASES, k)) return k;
  }
  return undefined;
}

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
}

function mainHelp(): string {
  const synopses = Object.values(COMMANDS).map((c) => `  tapwire ${c.synopsis}`);
  return [
    'Usage: tapwire [--socket PATH | --url URL --token-file FILE] [--json] COMMAND ...',
    '',
    'Commands:',
    ...synopses,
    `  tapwire ${EXEC_SYNOPSIS}`,
    '',
    'Options:',
    ...GLOBAL.map((o) => `  ${OPTION_HELP[o]}`),
    '',
    'Exit status: 0 done, 1 tapwired refused the request or could not be reached, 2 bad usage.',
  ].join('\n');
}

// commandsHelp explains some commands (a group's, or one) with the options they take.
function commandsHelp(commands: readonly Command[]): string {
  const options = [...new Set(commands.flatMap((c) => c.options ?? []))];
  return [
    'Usage:',
    ...commands.flatMap((c) => [`  tapwire ${c.synopsis}`, `      ${c.summary}`]),
    ...(options.length === 0 ? [] : ['', 'Options:', ...options.map((o) => `  ${OPTION_HELP[o]}`)]),
    '',
    "Global options (--socket, --url, --token-file, --json): see 'tapwire --help'.",
  ].join('\n');
}

function groupHelp(group: string): string {
  return commandsHelp(
    Object.entries(COMMANDS)
      .filter(([k]) => k.startsWith(`${group} `))
      .map(([, c]) => c),
  );
}

// target reads where tapwired is: flags first, then the environment, then the default socket. A token is read
// only for a URL (the unix socket needs none).
function target(v: Values, env: NodeJS.ProcessEnv): Target {
  const fromFlags = v.socket !== undefined || v.url !== undefined;
  const socket = fromFlags ? v.socket : env.TAPWIRE_SOCKET || undefined;
  const url = fromFlags ? v.url : env.TAPWIRE_URL || undefined;
  if (socket !== undefined && url !== undefined) {
    throw new UsageError(fromFlags ? 'give --socket or --url, not both' : 'TAPWIRE_SOCKET and TAPWIRE_URL are both set; unset one');
  }
  if (url === undefined) return { socketPath: socket ?? DEFAULT_SOCKET };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url wants a URL such as http://127.0.0.1:7070, not '${url}'`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`--url must be http:// or https://, not '${url}'`);
  const tokenFile = v['token-file'] ?? (env.TAPWIRE_TOKEN_FILE || undefined);
  if (tokenFile === undefined) throw new UsageError('--url needs --token-file: the TCP API requires a bearer token');
  let token: string;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
  } catch (e) {
    throw new CliError(`cannot read the token file ${tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (token === '') throw new CliError(`the token file ${tokenFile} is empty`);
  return { url, token };
}

const EXEC_SYNOPSIS = 'exec --port PORT [--fd-socket PATH] -- COMMAND [ARG]...';
const EXEC_HELP = [
  'Usage:',
  `  tapwire ${EXEC_SYNOPSIS}`,
  '      run COMMAND (an emulator) with the TAP of vm port PORT as its fd 3, e.g.',
  '      tapwire exec --port vm1 -- qemu-system-x86_64 ... -netdev tap,id=n0,fd=3 -device virtio-net-pci,netdev=n0',
  "      tapwired passes the fd if you are root, the port's owner or in its group; COMMAND runs as you.",
  '',
  'Options:',
  '  --port PORT        the vm port',
  `  --fd-socket PATH   where tapwired passes fds (env TAPWIRE_FD_SOCKET; default beside --socket: ${fdSocketFor(DEFAULT_SOCKET)})`,
  '',
  "Exit status: COMMAND's (128 + the signal when a signal ended it); 1 when tapwired gave no fd; 2 bad usage.",
].join('\n');

// firstWord is the first word of a command line that is neither an option nor an option's value.
function firstWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) return a;
    const name = a.replace(/^-+/, '');
    if (!a.includes('=') && ((OPTIONS as Record<string, { type: string }>)[name]?.type === 'string' || name === 'port' || name === 'fd-socket')) i++;
  }
  return undefined;
}

// runExec is `tapwire exec`: its own parse, since everything after -- belongs to the command it runs.
async function runExec(head: string[], command: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: head.filter((a) => a !== 'exec'),
      options: { port: { type: 'string' }, 'fd-socket': { type: 'string' }, socket: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`tapwire: ${(e as Error).message}\n\n${EXEC_HELP}\n`);
    return 2;
  }
  if (values.help === true) return print(EXEC_HELP);
  if (values.port === undefined || command.length === 0) {
    process.stderr.write(`tapwire: exec needs --port and a command after --\n\n${EXEC_HELP}\n`);
    return 2;
  }
  const socketPath = values['fd-socket'] ?? (env.TAPWIRE_FD_SOCKET || fdSocketFor(values.socket ?? (env.TAPWIRE_SOCKET || DEFAULT_SOCKET)));
  try {
    return await execWithFd({ socketPath, port: values.port, command });
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`tapwire: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

// main runs one command line and gives the exit status.
async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let help = mainHelp();
  const dashes = argv.indexOf('--');
  const head = dashes < 0 ? argv : argv.slice(0, dashes);
  if (firstWord(head) === 'exec') {
    return runExec(head, dashes < 0 ? [] : argv.slice(dashes + 1), env);
  }
  try {
    let parsed;
    try {
      parsed = parse(argv);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals, tokens } = parsed;
    const [first, second] = positionals;
    if (first === undefined) {
      if (values.help === true) return print(help);
      throw new UsageError('missing command');
    }
    const key = lookup(positionals);
    const cmd = key === undefined ? undefined : COMMANDS[ALIASES[key] ?? key];
    if (GROUPS.has(first)) help = groupHelp(first);
    if (key === undefined || cmd === undefined) {
      if (!GROUPS.has(first)) throw new UsageError(`unknown command '${first}'`);
      // The deepest group the words name: "router", or "router iface".
      const group = second !== undefined && isGroup(`${first} ${second}`) ? `${first} ${second}` : first;
      if (group !== first) help = groupHelp(group);
      const next = positionals[group.split(' ').length];
      if (next === undefined && values.help === true) return print(help);
      throw new UsageError(next === undefined ? `${group}: missing command` : `unknown command '${group} ${next}'`);
    }
    if (first !== key) help = commandsHelp([cmd]);
    if (values.help === true) return print(help);

    for (const t of tokens) {
      if (t.kind === 'option' && !GLOBAL.includes(t.name) && !(cmd.options ?? []).includes(t.name)) {
        throw new UsageError(`${key} does not take ${t.rawName}`);
      }
    }
    for (const o of NUMERIC) {
      const s = values[o];
      if (typeof s === 'string' && !/^-?\d+(\.\d+)?$/.test(s)) throw new UsageError(`--${o} wants a number, not '${s}'`);
    }
    const rest = positionals.slice(key.split(' ').length);
    if (rest.length !== cmd.args.length) {
      throw new UsageError(`${key} takes ${cmd.args.length === 0 ? 'no arguments' : cmd.args.map((a) => a.toUpperCase()).join(' ')}`);
    }
    const args = Object.fromEntries(cmd.args.map((a, i) => [a, rest[i] ?? '']));
    const client = new TapwireClient(target(values, env));
    const out = await cmd.run(client, args, values);
    if (values.json === true) {
      if (out.json !== undefined) print(JSON.stringify(out.json, null, 2));
    } else if (out.text !== undefined) {
      print(out.text);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`tapwire: ${e.message}\n\n${help}\n`);
      return 2;
    }
    if (e instanceof CliError) {
      process.stderr.write(`tapwire: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function print(text: string): 0 {
  process.stdout.write(`${text}\n`);
  return 0;
}

main(process.argv.slice(2), process.env).then(
  (status) => {
    process.exitCode = status;
  },
  (e: unknown) => {
    process.stderr.write(`tapwire: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
