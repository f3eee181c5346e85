/**
 * The action planner: which changes a transition makes to the box, in which order. Pure: a
 * function of (role, instance config, the VIPs the kernel has now) that returns data; the
 * executor (executor.ts) carries it out.
 *
 * Order (issue 3, after conntrackd's primary-backup.sh and keepalived #2254):
 * - master: conntrackd commit (the synced table must be in the kernel BEFORE the VIPs draw
 *   traffic) -> VIPs -> gratuitous ARP -> conntrackd flush/resync/bulk -> up hooks
 * - backup: VIPs removed -> conntrackd backup (started if needed, -t, -n) -> down hooks
 * - fault: the same as backup, conntrackd -t only
 * A box that leaves master gives the VIPs up first: its peer has already taken over, and a slow
 * down hook must not keep the address on two boxes (issue 12). Hooks come last both ways, once
 * the box is what the state says.
 * Load-sharing rules come after the VIPs (master: owning this box's node number) and before them
 * (releasing plans: removed).
 * With a virtual MAC (`vmac`), its macvlan gets its carrier before the VIPs go on it and loses it
 * (protodown) after they are gone: a backup's macvlan sends nothing, so the LAN's switches see
 * the virtual MAC on the master's port only.
 * Re-running a plan against a kernel that already matches changes nothing: the master's VIPs go
 * in with `ip addr replace` (a no-op for an address that is there, and no read on the failover's
 * hot path), and the releasing plans leave out VIPs the kernel does not have.
 */
import type { InstanceConfig, Vip } from '../config/instance.js';

export type Role = 'master' | 'backup' | 'fault';

export type ConntrackdCommand =
  | 'commit'
  | 'flush-caches'
  | 'resync-kernel'
  | 'bulk-send'
  | 'ensure-running'
  | 'schedule-flush'
  | 'request-resync';

export type Step =
  | { kind: 'conntrackd'; commands: ConntrackdCommand[] }
  | { kind: 'vips'; want: 'present' | 'absent'; vips: Vip[] }
  | { kind: 'garp'; addresses: string[] }
  /** The virtual MAC's macvlan: carrier on (a master speaks from it) or off (protodown). */
  | { kind: 'vmac'; carrier: boolean }
  | { kind: 'load-sharing'; action: 'install'; owned: number[] }
  | { kind: 'load-sharing'; action: 'remove' }
  | { kind: 'marks'; action: 'install' | 'remove' }
  | {
      kind: 'hook';
      script: string;
      args: string[];
      env: Record<string, string>;
      /** false (hooks.onFailure 'ignore', ucarp's way): a failure is logged, the plan goes on. */
      required: boolean;
    };

export interface KernelView {
  /** Addresses on the interface the instance's VIPs go on, now. */
  addresses: ReadonlySet<string>;
}

function hookSteps(cfg: InstanceConfig, role: Role): Step[] {
  const script = role === 'master' ? cfg.hooks.up : cfg.hooks.down;
  if (script === null) return [];
  const all = cfg.vips.map((v) => v.address);
  const env = {
    VIPD_STATE: role,
    VIPD_INSTANCE: cfg.name,
    VIPD_VRID: String(cfg.vrid),
    VIPD_INTERFACE: cfg.interface,
    VIPD_VIPS: all.join(' '),
    VIPD_FAMILY: `ipv${cfg.family}`,
    VIPD_PROTOCOL: cfg.protocol,
    // Where the VIPs are: the virtual MAC's macvlan, or VIPD_INTERFACE itself.
    VIPD_VIP_INTERFACE: cfg.vipInterface,
  };
  const extra = cfg.hooks.extra === null ? [] : [cfg.hooks.extra];
  // ucarp calls its scripts with one VIP; per transition, the first VIP stands in and all are in VIPD_VIPS.
  const targets = cfg.hooks.perVip ? all : all.slice(0, 1);
  return targets.map((vip) => ({
    kind: 'hook',
    script,
    args: [cfg.interface, vip, ...extra],
    env,
    required: cfg.hooks.onFailure === 'fault',
  }));
}

function conntrackd(cfg: InstanceConfig, commands: ConntrackdCommand[]): Step[] {
  return cfg.conntrackd.enabled ? [{ kind: 'conntrackd', commands }] : [];
}

function vmac(cfg: InstanceConfig, carrier: boolean): Step[] {
  return cfg.vmac === null ? [] : [{ kind: 'vmac', carrier }];
}

export function masterPlan(cfg: InstanceConfig): Step[] {
  return [
    ...conntrackd(cfg, ['commit']),
    ...vmac(cfg, true),
    { kind: 'vips', want: 'present', vips: cfg.vips },
    ...(cfg.loadSharing === null
      ? []
      : [
          {
            kind: 'load-sharing',
            action: 'install',
            owned: [cfg.loadSharing.localNode],
          } satisfies Step,
        ]),
    ...(cfg.marks.length === 0 ? [] : [{ kind: 'marks', action: 'install' } as const]),
    { kind: 'garp', addresses: cfg.vips.map((v) => v.address) },
    ...conntrackd(cfg, ['flush-caches', 'resync-kernel', 'bulk-send']),
    ...hookSteps(cfg, 'master'),
  ];
}

export function releasePlan(
  role: 'backup' | 'fault',
  cfg: InstanceConfig,
  kernel: KernelView,
): Step[] {
  const present = cfg.vips.filter((v) => kernel.addresses.has(v.address));
  return [
    // Removing is idempotent and the rules are not in the kernel view: always listed.
    ...(cfg.loadSharing === null ? [] : [{ kind: 'load-sharing', action: 'remove' } as const]),
    ...(cfg.marks.length === 0 ? [] : [{ kind: 'marks', action: 'remove' } as const]),
    ...(present.length > 0 ? [{ kind: 'vips', want: 'absent', vips: present } as const] : []),
    ...vmac(cfg, false),
    ...conntrackd(
      cfg,
      role === 'backup'
        ? ['ensure-running', 'schedule-flush', 'request-resync']
        : ['schedule-flush'],
    ),
    ...hookSteps(cfg, role),
  ];
}

/** A one-line description of a step for logs. */
export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'conntrackd':
      return `conntrackd ${step.commands.join(', ')}`;
    case 'vips': {
      // A step line must stay readable with 1,000 VIPs: the first few, then a count.
      const shown = step.vips.slice(0, 3).map((v) => `${v.address}/${v.prefix}`);
      const more = step.vips.length > 3 ? ` (+${step.vips.length - 3} more)` : '';
      return `VIPs ${step.want === 'present' ? 'add' : 'remove'} ${shown.join(' ')}${more}`;
    }
    case 'garp':
      return `gratuitous ARP / unsolicited NA for ${step.addresses.length} VIP(s)`;
    case 'vmac':
      return `virtual MAC carrier ${step.carrier ? 'on' : 'off (protodown)'}`;
    case 'marks':
      return `firewall marks ${step.action}`;
    case 'load-sharing':
      return step.action === 'install'
        ? `load sharing install owning node(s) ${step.owned.join(',')}`
        : 'load sharing remove';
    case 'hook':
      return `hook ${step.script} ${step.args.join(' ')}`;
  }
}
