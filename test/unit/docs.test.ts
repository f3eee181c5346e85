/**
 * The README and docs/ say what the code does: the generated command reference is current, every
 * JSON config example is a config vipd accepts, every default in the configuration tables is
 * the schema's, and every relative link (file and #anchor) leads somewhere.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, toFileShape } from '../../src/config/config.js';
import { CLI_DOC, cliDoc } from '../../scripts/docs.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DOCS = join(ROOT, 'docs');
const docFiles = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .map((f) => join(DOCS, f));
/** What the operator reads: the README and docs/ (and docker/'s README, for its links). */
const PAGES = [join(ROOT, 'README.md'), ...docFiles];
const read = (path: string): string => readFileSync(path, 'utf8');
const name = (path: string): string => relative(ROOT, path);

/** The text outside fenced code blocks: a link or table inside one is an example, not ours. */
const prose = (text: string): string => text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');

/** GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = (heading ?? '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .trim()
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

describe('docs/cli.md', () => {
  it('is what scripts/docs.ts renders from src/help.ts (npm run docs rewrites it)', async () => {
    expect(read(CLI_DOC), 'docs/cli.md is stale: run npm run docs').toBe(await cliDoc());
  });
});

describe('config examples', () => {
  // The schema and its cross-checks, as `vipd check` runs them; what check adds on a box (its
  // interfaces and scripts) depends on the box, and was run by hand on each example.
  const examples = [
    ...PAGES.flatMap((page) =>
      [...read(page).matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m, i) => ({
        where: `${name(page)}, JSON block ${i + 1}`,
        text: m[1] ?? '',
      })),
    ),
    ...['config/example.json', 'config/cluster-example.json'].map((f) => ({
      where: f,
      text: read(join(ROOT, f)),
    })),
  ];

  it('finds the examples (the quick start pair, the key tables, clusters, hmac)', () => {
    expect(examples.length).toBeGreaterThanOrEqual(7);
  });

  it.each(examples)('$where is a config vipd accepts', ({ where, text }) => {
    expect(() => parseConfig(JSON.parse(text), where)).not.toThrow();
  });
});

describe('docs/configuration.md', () => {
  const page = read(join(DOCS, 'configuration.md'));
  const defaults = toFileShape(
    parseConfig({
      instances: [{ name: 'VI_1', interface: 'eth0', vrid: 51, vips: ['192.0.2.100/24'] }],
    }),
  );

  /** A default cell as a value: a number, a flag, `[]`, `none` (null) or one word; else undefined. */
  function literal(cell: string): unknown {
    if (cell === 'required') return undefined;
    if (cell === 'none') return null;
    if (cell === 'true' || cell === 'false') return cell === 'true';
    if (cell === '[]') return [];
    if (/^\d+(\.\d+)?$/.test(cell)) return Number(cell);
    return /^[\w./:-]+$/.test(cell) ? cell : undefined;
  }

  /** Where a table's keys live, from the line that introduces it. */
  function tableRoot(intro: string): Record<string, unknown> {
    if (intro.includes('under `node`')) return defaults.node as Record<string, unknown>;
    if (intro.includes('top level')) return defaults as Record<string, unknown>;
    return defaults.instances[0] as Record<string, unknown>;
  }

  const lookup = (root: Record<string, unknown>, path: string): unknown =>
    path
      .split('.')
      .reduce<unknown>(
        (v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : v),
        root,
      );

  it('documents the defaults the schema fills in', () => {
    const lines = page.split('\n');
    const checked: string[] = [];
    lines.forEach((line, i) => {
      if (!/^\| key +\| meaning +\| default +\|$/.test(line)) return;
      const intro =
        lines
          .slice(0, i)
          .reverse()
          .find((l) => l.trim() !== '') ?? '';
      const root = tableRoot(intro);
      for (const row of lines.slice(i + 2)) {
        if (!row.startsWith('|')) break;
        const [keyCell = '', , defaultCell = ''] = row
          .slice(1, -1)
          .split(/(?<!\\)\|/)
          .map((c) => c.trim());
        const keys = [...keyCell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
        const cells = keys.length > 1 ? defaultCell.split(', ') : [defaultCell];
        if (cells.length !== keys.length) continue;
        keys.forEach((key, k) => {
          // `off`: a section with an `enabled` flag (conntrackd) that is false.
          const off = cells[k] === 'off';
          const want = off ? false : literal(cells[k] ?? '');
          if (want === undefined) return;
          const got = lookup(root, off ? `${key}.enabled` : key);
          expect(got, `${key}: the table says ${cells[k]}`).toEqual(want);
          checked.push(key);
        });
      }
    });
    // Prose defaults ("none, 10 s", "password required; 1, 0, 3") are skipped; the rest must
    // still be many, or this test checks nothing.
    expect(checked.length).toBeGreaterThanOrEqual(25);
  });
});

describe('relative links', () => {
  const pages = [...PAGES, join(ROOT, 'docker/README.md')];
  const links = pages.flatMap((page) =>
    [...prose(read(page)).matchAll(/\]\(([^)\s]+)\)/g)]
      .map((m) => m[1] ?? '')
      .filter((href) => !/^[a-z]+:/.test(href))
      .map((href) => ({ page: name(page), href, from: page })),
  );

  it('finds the links (the README links every page of docs/)', () => {
    const readme = links.filter((l) => l.page === 'README.md').map((l) => l.href);
    for (const f of docFiles) expect(readme).toContain(name(f));
  });

  it.each(links)('$page: $href leads to a file and heading that exist', ({ from, href }) => {
    const [path = '', hash] = href.split('#');
    const target = path === '' ? from : resolve(dirname(from), path);
    expect(existsSync(target), `${relative(ROOT, target)} does not exist`).toBe(true);
    if (hash !== undefined) {
      expect([...anchors(read(target))], `no heading #${hash} in ${name(target)}`).toContain(hash);
    }
  });
});
