/**
 * `npm run docs`: writes docs/cli.md, the command reference, from src/help.ts's COMMANDS, the
 * text `vipd --help` and the man page vipd(8) are rendered from: the commands are written once.
 * The markdown is passed through Prettier with the project's settings, so `npm run lint` accepts
 * the file as written. test/unit/docs.test.ts fails when the checked-in file differs from what
 * this produces.
 *
 *   scripts/node-env tsx scripts/docs.ts [--check]    (--check: exit 1 if docs/cli.md is stale)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format, resolveConfig } from 'prettier';
import * as help from '../src/help.js';
import type { CommandHelp, OptionHelp } from '../src/help.js';

const ROOT = resolve(import.meta.dirname, '..');
export const CLI_DOC = join(ROOT, 'docs/cli.md');

/** A table cell: pipes escaped, so `(-p PASS | -o FILE)` stays in its cell. */
const cell = (text: string): string => text.replaceAll('|', '\\|');

/** GitHub's anchor for a heading made of plain words (`vipd cluster owner`). */
const anchor = (heading: string): string => heading.toLowerCase().replaceAll(' ', '-');

function optionTable(options: readonly OptionHelp[]): string[] {
  return [
    '| option | meaning |',
    '| --- | --- |',
    ...options.map((o) => `| \`${cell(help.optionFlags(o))}\` | ${cell(o.text)} |`),
  ];
}

/** Details: unindented runs as paragraphs, indented lines kept as written in a text block. */
function details(text: string): string[] {
  const out: string[] = [];
  let block: string[] = [];
  const flush = (): void => {
    if (block.length > 0) out.push('', '```text', ...block, '```');
    block = [];
  };
  for (const b of help.detailBlocks(text)) {
    if (b.kind === 'verbatim') {
      block.push(b.line);
      continue;
    }
    flush();
    if (b.kind === 'text') out.push('', b.words.join(' '));
  }
  flush();
  return out;
}

function commandSection(c: CommandHelp): string[] {
  const out = [
    '',
    `## ${help.PROGRAM.name} ${c.name}`,
    '',
    `${c.summary[0]?.toUpperCase() ?? ''}${c.summary.slice(1)}.`,
    '',
    '```text',
    help.listUsage([c]),
    '```',
  ];
  if (c.options.length > 0) out.push('', ...optionTable(c.options));
  if (c.details !== '') out.push(...details(c.details));
  return out;
}

/** docs/cli.md before Prettier: every command with its usage, options and details. */
export function cliMarkdown(): string {
  const lines = [
    `# The ${help.PROGRAM.name} command line`,
    '',
    '<!-- Generated from src/help.ts by scripts/docs.ts (npm run docs): edit those, not this file. -->',
    '',
    `${help.PROGRAM.summary}. The same text is \`${help.PROGRAM.name} --help\`, \`${help.PROGRAM.name} COMMAND --help\` and the man page vipd(8).`,
    '',
    '```text',
    `${help.PROGRAM.name} COMMAND [ARGS...]`,
    `${help.PROGRAM.name} COMMAND --help`,
    '```',
    '',
    '| command | what it does |',
    '| --- | --- |',
    ...help.COMMANDS.map(
      (c) =>
        `| [\`${c.name}\`](#${anchor(`${help.PROGRAM.name} ${c.name}`)}) | ${cell(c.summary)} |`,
    ),
    '',
    `Options of the top level (every command also takes \`${help.optionFlags(help.HELP_OPTION)}\`):`,
    '',
    ...optionTable([help.HELP_OPTION, help.VERSION_OPTION]),
    '',
    'Exit status:',
    '',
    '| status | meaning |',
    '| --- | --- |',
    ...help.EXIT_STATUS.map((e) => `| ${e.code} | ${cell(e.text)} |`),
    ...help.COMMANDS.flatMap(commandSection),
  ];
  return `${lines.join('\n')}\n`;
}

/** docs/cli.md as it must be checked in: cliMarkdown() formatted as `npm run lint` wants it. */
export async function cliDoc(): Promise<string> {
  const options = (await resolveConfig(CLI_DOC)) ?? {};
  return format(cliMarkdown(), { ...options, parser: 'markdown' });
}

async function main(): Promise<void> {
  const want = await cliDoc();
  if (process.argv.includes('--check')) {
    if (readFileSync(CLI_DOC, 'utf8') !== want) {
      console.error('docs/cli.md is stale: run npm run docs');
      process.exit(1);
    }
    return;
  }
  writeFileSync(CLI_DOC, want);
  console.log(CLI_DOC);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
