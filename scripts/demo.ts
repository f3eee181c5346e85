/**
 * vipd's demo: two firewalls and a client on a namespace LAN, printed as a timeline.
 *
 * fw1 (priority 150) and fw2 (priority 100) elect fw1; fw1 is killed (SIGKILL) and fw2 takes the
 * VIP after the master-down interval; fw1 comes back, clears the VIP its crash left behind and
 * preempts; fw1 is stopped gracefully and fw2 takes over within the skew time. After each step
 * the client pings the VIP and shows which MAC its ARP entry points at.
 */
import { Lab, type LabProcess } from '../test/lab/lab.js';
import { startVipd } from '../test/support/vipd.js';

const VIP = '10.99.0.100';
const t0 = performance.now();
const stamp = (): string => `+${((performance.now() - t0) / 1000).toFixed(2).padStart(6)}s`;
const say = (text: string): void => console.log(`${stamp()}  ${text}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Prints each transition and VIP change a vipd process logs, as it happens. */
function narrate(proc: LabProcess, host: string): void {
  const seen = new Set<number>();
  const tick = setInterval(() => {
    proc.lines.forEach((line, i) => {
      if (seen.has(i)) return;
      seen.add(i);
      try {
        const e = JSON.parse(line) as Record<string, unknown>;
        if (e.event === 'transition') {
          const peer =
            e.peer === undefined ? '' : `, peer ${String(e.peer)} prio ${String(e.peerPriority)}`;
          say(`${host}: ${String(e.from)} -> ${String(e.to)} (${String(e.reason)}${peer})`);
        } else if (e.event === 'step') {
          say(
            `${host}: ${String(e.plan)}: ${String(e.step)} ${e.ok === true ? 'ok' : 'FAILED'} in ${String(e.ms)} ms`,
          );
        } else if (e.event === 'stale-vips-removed') {
          say(`${host}: removed VIP left behind by the crash`);
        }
      } catch {
        // not a log line (should not happen); the raw output is in the lab's log files
      }
    });
  }, 20);
  void proc.exited.then(() => clearInterval(tick));
}

async function clientView(lab: Lab, macs: Map<string, string>): Promise<void> {
  const ping = await lab.exec('client', 'ping', ['-c', '1', '-W', '1', VIP]).then(
    () => 'answers',
    () => 'does not answer',
  );
  const neigh = await lab.exec('client', 'ip', ['neigh', 'show', VIP]);
  const mac = /lladdr (\S+)/.exec(neigh)?.[1] ?? 'none';
  const owner = [...macs.entries()].find(([, m]) => m === mac)?.[0] ?? 'unknown';
  say(`client: ping ${VIP} ${ping}; its ARP entry points at ${mac} (${owner})`);
}

async function holders(lab: Lab): Promise<void> {
  const on = [];
  for (const host of ['fw1', 'fw2']) if (await lab.hasAddress(host, VIP)) on.push(host);
  say(`VIP ${VIP} is on: ${on.length === 0 ? 'nobody' : on.join(' and ')}`);
}

async function main(): Promise<void> {
  console.log(
    'vipd demo: fw1 (prio 150) and fw2 (prio 100) share VIP 10.99.0.100, VRRPv3, advert 1 s\n',
  );
  const lab = await Lab.create({ hosts: ['fw1', 'fw2', 'client'] });
  try {
    const macs = new Map<string, string>();
    for (const host of ['fw1', 'fw2']) {
      const link = await lab.exec(host, 'ip', ['-j', 'link', 'show', 'eth0']);
      macs.set(host, (JSON.parse(link) as { address: string }[])[0]?.address ?? '?');
    }
    say(
      `lab ready: ${lab.prefix}-{fw1,fw2,client,sw}; fw1 ${macs.get('fw1')}, fw2 ${macs.get('fw2')}`,
    );
    const instance = { priority: 150, version: 3 as const, advertInterval: 1 };
    let fw1 = startVipd(lab, 'fw1', [instance]);
    const fw2 = startVipd(lab, 'fw2', [{ ...instance, priority: 100 }]);
    narrate(fw1, 'fw1');
    narrate(fw2, 'fw2');
    say('started vipd on fw1 and fw2; both begin as backup and wait out the master-down interval');
    await fw1.waitForLine(/"to":"master"/, 15_000);
    await sleep(1_200);
    await holders(lab);
    await clientView(lab, macs);

    say('--- SIGKILL fw1 (crash: no goodbye advert) ---');
    const onFw2 = await lab.watchAddress('fw2', VIP);
    const killAt = performance.now();
    fw1.kill('SIGKILL');
    const took = (await onFw2(10_000)) - killAt;
    say(
      `fw2 holds the VIP ${took.toFixed(0)} ms after the crash (protocol: master-down interval 3609 ms)`,
    );
    await sleep(1_200);
    await holders(lab);
    say('(a killed process cannot clean up: the VIP stays on fw1 until vipd runs there again)');
    await clientView(lab, macs);

    say('--- restart vipd on fw1 ---');
    fw1 = startVipd(lab, 'fw1', [instance]);
    narrate(fw1, 'fw1');
    await fw1.waitForLine(/"to":"master"/, 15_000);
    await sleep(1_200);
    await holders(lab);
    await clientView(lab, macs);

    say('--- SIGTERM fw1 (graceful: priority-0 advert) ---');
    const again = await lab.watchAddress('fw2', VIP);
    const termAt = performance.now();
    fw1.kill('SIGTERM');
    const fast = (await again(10_000)) - termAt;
    say(
      `fw2 holds the VIP ${fast.toFixed(0)} ms after SIGTERM (protocol: skew time 609 ms); fw1 exited ${String(await fw1.exited)}`,
    );
    await sleep(1_200);
    await holders(lab);
    await clientView(lab, macs);
    await fw2.stop();
    say(`done; logs in ${lab.logDir}`);
  } finally {
    await lab.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
