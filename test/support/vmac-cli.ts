/**
 * Drives net/vmac.ts from the command line, for tests that need it inside a lab namespace:
 *   node --import tsx test/support/vmac-cli.ts OPS_JSON
 * OPS_JSON is a list of operations carried out one after another: {"ensure": VmacSpec,
 * "options"?: VmacOptions}, {"remove": {"name", "mac"}}, {"protodown": {"name", "mac", "on"}}.
 * Prints one JSON line: per operation {ok: true, value} or {ok: false, error, code} (the
 * VmacError's message and code).
 */
import {
  ensureVmac,
  removeVmac,
  setVmacProtodown,
  VmacError,
  type VmacOptions,
  type VmacSpec,
} from '../../src/net/vmac.js';

type Op =
  | { ensure: VmacSpec; options?: VmacOptions }
  | { remove: { name: string; mac: string } }
  | { protodown: { name: string; mac: string; on: boolean } };

const [ops] = process.argv.slice(2);
if (ops === undefined) {
  console.error('usage: vmac-cli.ts OPS_JSON');
  process.exit(2);
}
const results: unknown[] = [];
for (const op of JSON.parse(ops) as Op[]) {
  try {
    const value =
      'ensure' in op
        ? await ensureVmac(op.ensure, op.options)
        : 'remove' in op
          ? await removeVmac(op.remove.name, op.remove.mac)
          : await setVmacProtodown(op.protodown.name, op.protodown.mac, op.protodown.on);
    results.push({ ok: true, value: value ?? null });
  } catch (err) {
    const e = err as Error;
    results.push({
      ok: false,
      error: `${e.name}: ${e.message}`,
      code: err instanceof VmacError ? err.code : undefined,
    });
  }
}
console.log(JSON.stringify(results));
