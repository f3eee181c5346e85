/**
 * A stand-in `docker` for testing docker/splitbrain.sh without a Docker engine: put `env()` on
 * the script's environment and it finds this one first on PATH. It answers `docker compose
 * version` (so the script uses the plugin form), answers `docker ps -q` filtered by a compose
 * service label with the id `fake-<service>`, records every other call (`ps` included), and
 * succeeds, or exits with `fail.status` for a call containing the word `fail.word` (a compose
 * subcommand such as `build`, or `nft` for a cut). Its directory is a `tempDir`: the test file
 * removes it with `afterAll(removeTempDirs)`.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir.js';

export class FakeDocker {
  private readonly bin = tempDir('vipd-fake-docker-');
  private readonly log = join(this.bin, 'calls.jsonl');

  constructor() {
    writeFileSync(
      join(this.bin, 'docker'),
      `#!${process.execPath}\n` +
        `const args = process.argv.slice(2);\n` +
        `if (args[0] === 'compose' && args[1] === 'version') process.exit(0);\n` +
        `require('node:fs').appendFileSync(${JSON.stringify(this.log)}, JSON.stringify(args) + '\\n');\n` +
        `const service = args[0] === 'ps' && /com\\.docker\\.compose\\.service=(\\S+)/.exec(args.join(' '));\n` +
        `if (service) console.log('fake-' + service[1]);\n` +
        `const [word, status] = (process.env.FAKE_DOCKER_FAIL ?? '').split(':');\n` +
        `if (word && args.includes(word)) process.exit(Number(status));\n`,
    );
    chmodSync(join(this.bin, 'docker'), 0o755);
    this.reset();
  }

  /** The environment that makes a script call this docker. */
  env(fail?: { word: string; status: number }): NodeJS.ProcessEnv {
    return {
      PATH: `${this.bin}:${process.env.PATH ?? ''}`,
      FAKE_DOCKER_FAIL: fail === undefined ? '' : `${fail.word}:${fail.status}`,
    };
  }

  /** The argument vectors of the calls since the last reset, in order. */
  calls(): string[][] {
    const text = readFileSync(this.log, 'utf8').trim();
    return text === '' ? [] : text.split('\n').map((l) => JSON.parse(l) as string[]);
  }

  reset(): void {
    writeFileSync(this.log, '');
  }
}
