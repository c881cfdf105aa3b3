import type http from "node:http";

export interface GracefulShutdownOptions {
  /** Hard limit on draining; past it the process exits 1 so the stop never depends on Docker's SIGKILL. */
  timeoutMs: number;
  log: (message: string) => void;
  /** Closes what outlives requests (database pools). Runs once, after the last in-flight request has finished. */
  closeResources: () => Promise<void>;
  /** Injected for tests; defaults to process.exit. */
  exit?: (code: number) => void;
  now?: () => number;
}

export interface Lifecycle {
  /** Requests received and not yet answered (or abandoned by their client). */
  inFlight(): number;
  draining(): boolean;
  /** Starts draining: idempotent, a second signal only logs. */
  shutdown(signal: string): void;
}

/**
 * Graceful shutdown for an http.Server. The proxy may still hold keep-alive connections to us
 * when the platform stops the container, so: stop listening, close idle connections at once (not
 * every Node 18 release's server.close() does that itself, and package.json allows 18.18), answer
 * every request already received with `Connection: close` so its connection ends with it, and
 * only then close the database pools.
 */
export function manageLifecycle(server: http.Server, opts: GracefulShutdownOptions): Lifecycle {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const now = opts.now ?? Date.now;
  const open = new Set<http.ServerResponse>();
  let signalledAt: number | undefined;
  let finishing = false;

  const closeOnEnd = (res: http.ServerResponse): void => {
    // Headers already on the wire cannot change; that connection is closed as idle once its answer is done.
    if (!res.headersSent) res.setHeader("connection", "close");
  };

  const finish = (): void => {
    if (finishing || signalledAt === undefined) return;
    finishing = true;
    opts.log(`drained in ${now() - signalledAt} ms, closing database connections`);
    // What is left can only be a connection still sending a request's headers: no answer is owed.
    server.closeAllConnections();
    opts
      .closeResources()
      .catch((e: unknown) => opts.log(`closing database connections failed: ${(e as Error).message}`))
      .finally(() => exit(0));
  };

  // Prepended so it runs before the route handler, which may answer synchronously.
  server.prependListener("request", (_req: http.IncomingMessage, res: http.ServerResponse) => {
    open.add(res);
    // A request can still arrive on a connection accepted before the signal.
    if (signalledAt !== undefined) closeOnEnd(res);
    // 'close' fires after the answer is sent and also when the client goes away mid-request.
    res.once("close", () => {
      open.delete(res);
      if (signalledAt === undefined) return;
      // The connection that carried this answer may now be idle; the next tick sees it as such.
      setImmediate(() => server.closeIdleConnections());
      if (open.size === 0) finish();
    });
  });

  return {
    inFlight: () => open.size,
    draining: () => signalledAt !== undefined,
    shutdown(signal: string): void {
      if (signalledAt !== undefined) {
        opts.log(`${signal} received again, still draining ${open.size} in-flight request(s)`);
        return;
      }
      signalledAt = now();
      opts.log(`${signal} received, draining ${open.size} in-flight request(s)`);
      server.close();
      server.closeIdleConnections();
      for (const res of open) closeOnEnd(res);
      // Not unref'd: a hung pool close must still end the process with a failure code.
      setTimeout(() => {
        opts.log(`shutdown timed out after ${opts.timeoutMs} ms with ${open.size} request(s) still in flight, exiting 1`);
        exit(1);
      }, opts.timeoutMs);
      if (open.size === 0) finish();
    },
  };
}
