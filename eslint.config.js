import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

/*
 * The layers of src/, one way down (issue 12, docs/layout.md): a file may import its own layer
 * and the layers below it, never one above; no runtime import cycle anywhere. Every file of
 * src/ is in exactly one layer: a file in none fails lint (last block) until it is placed here.
 *
 *   shell     process, signals, wiring: may import anything
 *   features  actions, cluster, track, control, migrate: features, ports, core
 *   ports     I/O: sockets, netlink, clock, events, log, runtime: ports, core
 *   core      pure decisions: core only, and no module that does I/O
 */
const LAYERS = {
  core: {
    files: [
      'src/vrrp/**',
      'src/carp/**',
      'src/router/**',
      'src/config/**',
      'src/actions/plan.ts',
      'src/cluster/ownership.ts',
      'src/cluster/hash.ts',
      'src/net/address.ts',
      'src/net/checksum.ts',
      'src/net/ipv4.ts',
      'src/net/arp.ts',
      'src/net/nd.ts',
      'src/net/rtnetlink.ts',
      // A dependency-free error class that the CLI's subcommands (features) throw and cli.ts
      // reports: in the shell, every one of them would import upward.
      'src/usage.ts',
      // The command line's text: data, imported by the CLI and by a man page generator.
      'src/help.ts',
      // vipd(8) rendered from help.ts's text, for the Debian package.
      'src/help-man.ts',
    ],
    // What the config means on this box (scripts present, addresses on interfaces) reads the
    // filesystem: a port, though it lives with the schema.
    except: ['src/config/host-checks.ts'],
  },
  ports: {
    files: [
      'src/ports/**',
      'src/net/**',
      'src/runtime/**',
      'src/types/**',
      'src/native.ts',
      'src/log.ts',
      'src/config/host-checks.ts',
    ],
    except: [
      'src/net/address.ts',
      'src/net/checksum.ts',
      'src/net/ipv4.ts',
      'src/net/arp.ts',
      'src/net/nd.ts',
      'src/net/rtnetlink.ts',
    ],
  },
  features: {
    files: ['src/actions/**', 'src/cluster/**', 'src/track/**', 'src/control/**', 'src/migrate/**'],
    except: ['src/actions/plan.ts', 'src/cluster/ownership.ts', 'src/cluster/hash.ts'],
  },
  shell: { files: ['src/daemon/**', 'src/cli.ts'], except: [] },
};
const ORDER = ['core', 'ports', 'features', 'shell'];

// Node modules and packages that do I/O, which the core must not import: it takes time, packets
// and results as arguments and returns decisions (node:crypto is computation, so it stays).
const IO_MODULES = [
  'fs',
  'fs/promises',
  'net',
  'dgram',
  'dns',
  'dns/promises',
  'http',
  'https',
  'http2',
  'tls',
  'os',
  'child_process',
  'cluster',
  'worker_threads',
  'readline',
  'timers',
  'timers/promises',
  'perf_hooks',
  'process',
  'inspector',
  'module',
];
const IO_PACKAGES = ['execa', 'pino', 'prom-client'];

// Absolute globs: import-x matches `except` against the resolved absolute path, and takes only
// globs there when `from` is one (a single file becomes `dir/@(name).ts`).
const abs = (path) =>
  `${root}/${/[*?{}()[\]]/.test(path) ? path : path.replace(/[^/]+$/, '@($&)')}`;

/** The zones of a layer: importing any src file outside the layers at or below it is an error. */
function layerZones(layer) {
  const allowed = ORDER.slice(0, ORDER.indexOf(layer) + 1);
  const allowedFiles = allowed.flatMap((l) => LAYERS[l].files);
  // Files inside an allowed folder that belong to a higher layer (a port among the core's
  // config files) are forbidden by a zone of their own, since `except` cannot subtract.
  const higherInside = ORDER.slice(ORDER.indexOf(layer) + 1)
    .flatMap((l) => LAYERS[l].files)
    .filter((f) => allowed.some((l) => LAYERS[l].except.includes(f)));
  const message = `${layer} may import only ${allowed.join(', ')} (issue 12; see eslint.config.js).`;
  const zones = [{ target: './src', from: abs('src/**'), except: allowedFiles.map(abs), message }];
  if (higherInside.length > 0) zones.push({ target: './src', from: higherInside, message });
  return zones;
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'build/**', '.lab/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' },
      ],
    },
  },
  {
    files: ['eslint.config.js', 'vitest.config.ts', 'vitest.lab.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  // Type-aware rules, for the files of tsconfig.json (sources, tests, scripts, bench): a promise
  // nobody awaits or catches is a failure nobody sees, and an async function where a void
  // callback is expected (an event handler) drops its rejection the same way. Tests cost little
  // more: the program that types src/ holds them anyway.
  {
    files: [
      'src/**/*.ts',
      'test/**/*.ts',
      'scripts/**/*.ts',
      'bench/**/*.ts',
      'vitest.config.ts',
      'vitest.lab.config.ts',
    ],
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: root },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  // Layers: import-x resolves each import to its file (`.js` specifiers to the `.ts` sources).
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // no-cycle parses the imported files too: tell it they are TypeScript.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      // Type-only imports are not followed (they vanish at run time); upward type imports are
      // still caught by the layer zones below.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  ...ORDER.map((layer) => ({
    files: LAYERS[layer].files,
    ignores: LAYERS[layer].except,
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: root, zones: layerZones(layer) }],
    },
  })),
  {
    files: LAYERS.core.files,
    ignores: LAYERS.core.except,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...IO_MODULES.flatMap((m) => [m, `node:${m}`]), ...IO_PACKAGES].map((name) => ({
            name,
            message: 'The core does no I/O: take the value as an argument, or move this to a port.',
          })),
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ORDER.flatMap((l) => LAYERS[l].files),
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'Program',
          message: 'This file is in no layer: add it to LAYERS in eslint.config.js.',
        },
      ],
    },
  },
);
