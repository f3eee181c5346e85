/**
 * Test helpers shared by the VRRP and CARP state machine tests (both machines keep vrrp/fsm's
 * FsmState and are driven alike): a machine started at a time and sitting in backup, or one that
 * became master through its master-down timer. Each checks the state it promises.
 */
import { expect } from 'vitest';
import type { FsmResult, FsmState } from '../../src/vrrp/fsm.js';

/** The two events the helpers send, which every machine's event union includes. */
type Clocked = { type: 'startup' } | { type: 'timer' };

export interface Machine<C> {
  initialState: (config: C) => FsmState;
  step: (config: C, state: FsmState, event: Clocked, now: number) => FsmResult;
}

/** Started at `at`, sitting in backup. */
export function backupAt<C>(machine: Machine<C>, cfg: C, at = 0): FsmState {
  const { state } = machine.step(cfg, machine.initialState(cfg), { type: 'startup' }, at);
  expect(state.state).toBe('backup');
  return state;
}

/** Became master at `at` through its master-down timer (started at 0). */
export function masterAt<C>(machine: Machine<C>, cfg: C, at = 0): FsmState {
  const waiting = backupAt(machine, cfg, 0);
  const { state } = machine.step(cfg, { ...waiting, masterDownAt: at }, { type: 'timer' }, at);
  expect(state.state).toBe('master');
  return state;
}
