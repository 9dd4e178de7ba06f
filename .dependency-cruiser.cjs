// The architecture rules of ../shared/DESIGN.md ("Layers and folders", "Imports point down") as
// dependency-cruiser rules, for the layout after issue 11. `npm run arch` checks them; `npm run lint` and CI
// run it. The floors, from the bottom up:
//
//   wire, time, native, errors.ts, version.ts   vocabulary and the addon's loader: they import nothing of ours
//   ports, tap, tun                              devices: the only importers of native
//   bridge, router                               frames in, verdicts out: wire, time, the port interface
//   dataplane                                    the worker: everything above, wired together
//   daemon                                       desired state; reaches the dataplane by its protocol/client/counters
//   api, metrics                                 the daemon's facade over HTTP and Prometheus
//   cli                                          a separate program: talks HTTP (and the fd socket), so it takes
//                                                types only from the floors it describes
//   tapwired.ts (the entry point), index.ts      top floor: may import anything; nothing imports them
//
// Each floor rule lists what the floor MAY import (every other src/ path is forbidden), so a new folder is
// forbidden until a rule names it. Type-only imports count like any other: `tsPreCompilationDeps: true`
// keeps the imports that tsc erases, so a type arrow that points up fails too. test/ and bench/ stand
// outside the floors; they may import any src/ module but the entry point.

// The entry point, top floor.
const ENTRY = '^src/tapwired[.]ts$';
// The library's public surface (package.json "main"): top floor like the entry point.
const LIBRARY = '^src/index[.]ts$';
const TOP = `${ENTRY}|${LIBRARY}`;
// The error table and the version constant: leaves that the floors above wire, time and native may use.
const ERRORS = '^src/errors[.]ts$';
const VERSION = '^src/version[.]ts$';
// The port interface and the drop reasons: the type-level vocabulary the bridge and router share with ports.
const PORT_VOCABULARY = '^src/ports/(port|drop-reason|verdict)[.]ts$';
// The data plane's face to the control plane: the command/reply protocol, the client that runs the worker,
// the shared counters' layout.
const DATAPLANE_FACE = '^src/dataplane/(protocol|client|counters)[.]ts$';
// The fd-passing protocol of `tapwire exec` lives with the ports (DESIGN.md); the CLI is its client.
const FD_PASSING = '^src/ports/fd-[^/]+[.]ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // ---- vocabulary: imports nothing of the project ----------------------------------------------------
    {
      name: 'wire-is-vocabulary',
      comment: 'src/wire is the vocabulary: it imports nothing of the project outside src/wire.',
      severity: 'error',
      from: { path: '^src/wire/' },
      to: { path: '^src/', pathNot: '^src/wire/' },
    },
    {
      name: 'time-is-a-leaf',
      comment: 'src/time (the timer wheel) imports nothing of the project outside src/time: time is injected as `now`.',
      severity: 'error',
      from: { path: '^src/time/' },
      to: { path: '^src/', pathNot: '^src/time/' },
    },
    {
      name: 'leaves-import-nothing',
      comment: 'The native loader, the error table and the version constant import nothing of the project.',
      severity: 'error',
      from: { path: `^src/native/|${ERRORS}|${VERSION}` },
      to: { path: '^src/', pathNot: '^src/native/' },
    },

    // ---- the native addon --------------------------------------------------------------------------------
    {
      name: 'native-only-from-devices',
      comment:
        'src/native, the one typed loader of the addon, is imported only by device code: src/ports, src/tap, src/tun ' +
        '(type-only imports included). Anything else reaches a device through the port interface.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(native|ports|tap|tun)/' },
      to: { path: '^src/native/' },
    },
    {
      name: 'addon-loaded-only-by-native',
      comment:
        'Only src/native loads the addon: no import of a .node file, of bindings or node-gyp-build, nor ' +
        'node:module (createRequire, the way an ES module loads a .node file) anywhere else, tests included.',
      severity: 'error',
      from: { pathNot: '^src/native/' },
      to: { path: '[.]node$|^native/|(^|/)node_modules/(bindings|node-gyp-build)/|^module$' },
    },

    // ---- floors: what each may import (every other src/ path is forbidden) ---------------------------------
    {
      name: 'devices-import-down-only',
      comment: 'src/ports, src/tap and src/tun may import wire, native, time, errors and each other; never bridge, router, dataplane, daemon, api, metrics, cli nor the entry point.',
      severity: 'error',
      from: { path: '^src/(ports|tap|tun)/' },
      to: { path: '^src/', pathNot: `^src/(ports|tap|tun|wire|native|time)/|${ERRORS}` },
    },
    {
      name: 'bridge-router-know-frames-and-ports',
      comment:
        'src/bridge and src/router may import wire, time, the port interface and drop reasons ' +
        '(src/ports/port.ts, src/ports/drop-reason.ts), errors and their own folder; never native, tap, tun, ' +
        'the other port kinds, each other, dataplane, daemon, api, metrics, cli.',
      severity: 'error',
      from: { path: '^src/(bridge|router)/' },
      to: { path: '^src/', pathNot: [`^src/$1/`, '^src/(wire|time)/', PORT_VOCABULARY, ERRORS] },
    },
    {
      name: 'dataplane-below-the-control-plane',
      comment:
        'src/dataplane may import what is below it (wire, time, ports, tap, tun, bridge, router, errors); ' +
        'never daemon, api, metrics, cli (nor native, which native-only-from-devices reports).',
      severity: 'error',
      from: { path: '^src/dataplane/' },
      to: { path: '^src/', pathNot: `^src/(dataplane|wire|time|ports|tap|tun|bridge|router|native)/|${ERRORS}` },
    },
    {
      name: 'daemon-below-api-metrics-cli',
      comment: 'src/daemon never imports api, metrics, cli nor the entry point.',
      severity: 'error',
      from: { path: '^src/daemon/', pathNot: ENTRY },
      to: { path: `^src/(api|metrics|cli)/|${TOP}` },
    },
    {
      name: 'daemon-reaches-dataplane-by-messages',
      comment:
        'src/daemon reaches the data plane only through its protocol, its client and the shared counters ' +
        '(src/dataplane/protocol.ts, client.ts, counters.ts), never its internals (forwarder, port table, worker).',
      severity: 'error',
      from: { path: '^src/daemon/', pathNot: ENTRY },
      to: { path: '^src/dataplane/', pathNot: DATAPLANE_FACE },
    },
    {
      name: 'api-metrics-below-cli-and-entry',
      comment: 'src/api and src/metrics may import the daemon and below; never cli nor the entry point.',
      severity: 'error',
      from: { path: '^src/(api|metrics)/' },
      to: { path: `^src/cli/|${TOP}` },
    },
    {
      name: 'cli-runs-without-the-daemon',
      comment:
        'src/cli is a separate program that talks HTTP: at run time it imports only its own folder, wire, ' +
        'errors, version and the fd-passing client of `tapwire exec` (src/ports/fd-*.ts), so that nothing ' +
        'pulls fastify, the daemon or the data plane into the command line (native: native-only-from-devices).',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: [`^src/(cli|wire|native)/`, ERRORS, VERSION, FD_PASSING], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'cli-types-from-the-resources',
      comment: 'src/cli may take types (import type, erased at build) from the resources it shows: the API schemas, the daemon, the shared counters and the router stats; from nothing else.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: {
        path: '^src/',
        pathNot: [`^src/(cli|wire|daemon|native)/`, '^src/api/schemas[.]ts$', '^src/dataplane/counters[.]ts$', '^src/router/stats[.]ts$', ERRORS, VERSION, FD_PASSING],
        dependencyTypes: ['type-only'],
      },
    },
    {
      name: 'nothing-imports-the-entry',
      comment: 'The entry point (src/tapwired.ts) and the library surface (src/index.ts) are the top floor: nothing imports them.',
      severity: 'error',
      from: {},
      to: { path: TOP },
    },
    {
      name: 'fakes-only-from-tests',
      comment: 'A fake (any src module named *fake*) is imported only from test/ (or by another fake).',
      severity: 'error',
      from: { pathNot: '^test/|^src/.*fake[^/]*$' },
      to: { path: '^src/.*fake[^/]*$' },
    },

    // ---- hygiene -----------------------------------------------------------------------------------------
    {
      name: 'no-circular',
      comment: 'No import circles between files, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      comment: 'No import circles between folders of src/ (e.g. ports -> tap -> ports), type-only imports included.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'A module of src/ that nothing imports and that imports nothing is dead code.',
      severity: 'error',
      from: { orphan: true, path: '^src/', pathNot: '[.]d[.]ts$' },
      to: {},
    },
    {
      name: 'not-to-dev-dep',
      comment: 'src/ ships: it may not import a devDependency (the @types packages aside).',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], pathNot: '(^|/)node_modules/@types/' },
    },
    {
      name: 'no-non-package-json',
      comment: 'Every package imported is declared in package.json.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves to a file or a package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '^(dist|build)/' },
    // Keep the imports tsc erases (import type, imports used only as types): a type arrow is an arrow.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
