/**
 * Where the daemon's events (router/events.ts) go: observers registered by the metrics endpoint,
 * sync groups and tests. Observers are called synchronously and must not throw or block: the
 * event loop also carries the adverts.
 */
import type { DaemonEvent } from '../router/events.js';

export type Observer = (event: DaemonEvent) => void;

/** Fans events out to the observers registered so far. */
export class Observers {
  private readonly list: Observer[] = [];

  add(observer: Observer): void {
    this.list.push(observer);
  }

  readonly emit = (event: DaemonEvent): void => {
    for (const observer of this.list) observer(event);
  };
}
