/**
 * The man page vipd(8), rendered as roff from the same COMMANDS as `vipd --help` (help.ts), so
 * the two cannot drift apart. Pure string formatting: the Debian package build
 * (scripts/package.ts) writes the result to /usr/share/man/man8/vipd.8.gz.
 */
import {
  COMMANDS,
  EXIT_STATUS,
  HELP_OPTION,
  PROGRAM,
  VERSION_OPTION,
  detailBlocks,
  type CommandHelp,
  type OptionHelp,
} from './help.js';

/** The files a packaged vipd reads and makes; the paths are vipd's defaults and the package's. */
const FILES: readonly (readonly [string, string])[] = [
  ['/etc/vipd/vipd.json', 'the config file the systemd unit starts vipd with (a conffile)'],
  ['/run/vipd/vipd.sock', "the control socket's default path (control.socket)"],
  [
    '/usr/lib/systemd/system/vipd.service',
    'the systemd unit; local changes belong in a drop-in (systemctl edit vipd)',
  ],
  [
    '/usr/share/doc/vipd/examples/',
    'example configs: a pair of firewalls, an active-active cluster, and what their keys mean',
  ],
];

const SEE_ALSO = [
  'systemctl(1)',
  'journalctl(1)',
  'ip(8)',
  'nft(8)',
  'conntrackd(8)',
  'keepalived(8)',
  'ucarp(8)',
];

/**
 * Text for roff: backslashes and hyphens escaped (`\-` stays an ASCII hyphen that can be
 * copied into a shell), `code` in bold; never a control character at the start of a line.
 */
export function roffText(text: string): string {
  const escaped = text
    .replaceAll('\\', '\\e')
    .replaceAll('-', '\\-')
    .replace(/`([^`]+)`/g, '\\fB$1\\fR');
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

/** `\fB\-c\fR, \fB\-\-config\fR \fIFILE\fR`. */
function optionFlags(o: OptionHelp): string {
  const long = `\\fB${roffText(`--${o.long}`)}\\fR`;
  const value = o.value === undefined ? '' : ` \\fI${roffText(o.value)}\\fR`;
  return o.short === undefined ? `${long}${value}` : `\\fB\\-${o.short}\\fR, ${long}${value}`;
}

const taggedParagraph = (tag: string, text: string): string[] => ['.TP', tag, roffText(text)];

/**
 * One command's synopsis: `.SY` indents continuation lines under the arguments, and `\~` keeps
 * each unit (`[--sport P]`) on one line, as the terminal's usage does.
 */
function synopsis(c: CommandHelp): string[] {
  return [
    `.SY "${PROGRAM.name} ${roffText(c.name)}"`,
    // `\&` after each: a unit ending in `.` or `.]` is no sentence end (no double space).
    ...c.synopsis.map((unit) => `${roffText(unit).replaceAll(' ', '\\~')}\\&`),
    '.YS',
  ];
}

/** Details: text filled by roff, indented lines kept as written, empty lines as paragraphs. */
function details(text: string): string[] {
  const out: string[] = [];
  let verbatim = false;
  const setVerbatim = (on: boolean): void => {
    if (on !== verbatim) out.push(on ? '.nf' : '.fi');
    verbatim = on;
  };
  for (const block of detailBlocks(text)) {
    if (block.kind === 'verbatim') {
      setVerbatim(true);
      out.push(roffText(block.line));
    } else {
      setVerbatim(false);
      out.push(block.kind === 'text' ? roffText(block.words.join(' ')) : '.PP');
    }
  }
  setVerbatim(false);
  return out;
}

function commandSection(c: CommandHelp): string[] {
  const out = [
    `.SS ${roffText(`${PROGRAM.name} ${c.name}`)}`,
    ...synopsis(c),
    '.PP',
    roffText(c.summary),
  ];
  if (c.options.length > 0) {
    out.push('.PP', 'Options:', '.RS');
    for (const o of c.options) out.push(...taggedParagraph(optionFlags(o), o.text));
    out.push('.RE');
  }
  if (c.details !== '') out.push('.PP', ...details(c.details));
  return out;
}

/** vipd(8) in roff (man macros); `date` as YYYY-MM-DD, the build's, for a reproducible page. */
export function manPage(version: string, date: string): string {
  const lines = [
    `.\\" vipd(8), generated from src/help.ts by src/help-man.ts: edit those, not this page.`,
    `.TH VIPD 8 "${date}" "vipd ${roffText(version)}" "System Administration"`,
    '.SH NAME',
    `${PROGRAM.name} \\- ${roffText(PROGRAM.summary)}`,
    '.SH SYNOPSIS',
    `\\fB${PROGRAM.name}\\fR \\fICOMMAND\\fR [\\fIARGS...\\fR]`,
    '.br',
    `\\fB${PROGRAM.name}\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR`,
    ...COMMANDS.flatMap(synopsis),
    '.SH DESCRIPTION',
    `${roffText(PROGRAM.summary)}.`,
    'The commands follow;',
    `\\fB${PROGRAM.name}\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR prints the same text for one of them.`,
    '.SH OPTIONS',
    ...[HELP_OPTION, VERSION_OPTION].flatMap((o) => taggedParagraph(optionFlags(o), o.text)),
    '.PP',
    `Every command also takes ${optionFlags(HELP_OPTION)}.`,
    '.SH COMMANDS',
    ...COMMANDS.flatMap(commandSection),
    '.SH EXIT STATUS',
    ...EXIT_STATUS.flatMap((e) => taggedParagraph(`\\fB${e.code}\\fR`, e.text)),
    '.SH FILES',
    ...FILES.flatMap(([path, text]) => taggedParagraph(`\\fI${roffText(path)}\\fR`, text)),
    '.SH SEE ALSO',
    SEE_ALSO.map((ref) => ref.replace(/^(.*)\((\d)\)$/, '\\fB$1\\fR($2)')).join(', '),
  ];
  return `${lines.join('\n')}\n`;
}
