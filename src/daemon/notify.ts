/**
 * Telling systemd how the daemon is doing (sd_notify(3)) without libsystemd: the datagrams go
 * through the vipd_native addon (native/notify.cc; Node has no AF_UNIX datagram sockets), loaded
 * on the first message so a daemon not started by systemd never needs it.
 *
 * `createNotifier(env)` reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once. Without
 * NOTIFY_SOCKET every method is a no-op and `watchdogIntervalMs()` is undefined. No method throws:
 * the watchdog ping runs on the daemon's timers, and a service manager that cannot be told is no
 * reason to stop failing over, so a failed send (or an addon that does not load) is handed to
 * `onError` for the caller to log (the default drops it), and the message is lost.
 * `startWatchdog` pings at half the interval systemd asked for, from an ordinary timer: the pings
 * stop when the event loop stops turning, which is exactly what the watchdog is there to notice.
 */
import { loadNative } from '../native.js';

export interface Notifier {
  /** READY=1: start-up is over (Type=notify units count as started only now). */
  ready(status?: string): void;
  /** STOPPING=1: a graceful stop has begun. */
  stopping(status?: string): void;
  /** STATUS=: one line for `systemctl status`. */
  status(text: string): void;
  /** WATCHDOG=1; nothing when no watchdog is ours (see watchdogIntervalMs). */
  watchdog(): void;
  /** WATCHDOG_USEC in ms when the watchdog watches this process, else undefined. */
  watchdogIntervalMs(): number | undefined;
}

export class NotifyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NotifyError';
  }
}

/** sd_notify assignments are newline-separated: a newline inside a value would start another. */
function statusLine(text: string): string {
  return `STATUS=${text.replace(/[\r\n]+/g, ' ')}`;
}

function watchdogMs(env: NodeJS.ProcessEnv): number | undefined {
  // WATCHDOG_PID names the process the watchdog is for; a child that inherited the variables
  // (a hook, a helper) must not ping on its parent's behalf.
  const pid = env.WATCHDOG_PID;
  if (pid !== undefined && pid !== '' && Number(pid) !== process.pid) return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  if (env.WATCHDOG_USEC === undefined || !Number.isFinite(usec) || usec <= 0) return undefined;
  return usec / 1000;
}

export function createNotifier(
  env: NodeJS.ProcessEnv = process.env,
  onError: (err: NotifyError) => void = () => undefined,
): Notifier {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') {
    return {
      ready: () => undefined,
      stopping: () => undefined,
      status: () => undefined,
      watchdog: () => undefined,
      watchdogIntervalMs: () => undefined,
    };
  }
  const intervalMs = watchdogMs(env);
  const send = (...lines: string[]): void => {
    // systemd's own sd_notify also takes vsock: addresses (for VMs); we are never started so.
    if (!socket.startsWith('/') && !socket.startsWith('@')) {
      onError(new NotifyError(`NOTIFY_SOCKET=${socket}: only paths and @abstract are supported`));
      return;
    }
    try {
      loadNative().notify(socket, lines.join('\n'));
    } catch (err) {
      onError(
        new NotifyError(
          `cannot notify ${socket} (${lines.join(', ')}): ${(err as Error).message}`,
          {
            cause: err,
          },
        ),
      );
    }
  };
  const withStatus = (line: string, status: string | undefined): string[] =>
    status === undefined ? [line] : [line, statusLine(status)];
  return {
    ready: (status) => send(...withStatus('READY=1', status)),
    stopping: (status) => send(...withStatus('STOPPING=1', status)),
    status: (text) => send(statusLine(text)),
    watchdog: () => {
      if (intervalMs !== undefined) send('WATCHDOG=1');
    },
    watchdogIntervalMs: () => intervalMs,
  };
}

/**
 * Pings every half watchdog interval (systemd's advice: a late timer still lands inside the
 * interval) until the process exits. The timer is unref'd: it must never be what keeps the
 * process alive. Undefined when there is no watchdog.
 */
export function startWatchdog(notifier: Notifier): NodeJS.Timeout | undefined {
  const intervalMs = notifier.watchdogIntervalMs();
  if (intervalMs === undefined) return undefined;
  const timer = setInterval(() => notifier.watchdog(), Math.max(1, intervalMs / 2));
  timer.unref();
  return timer;
}
