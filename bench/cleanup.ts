/**
 * Everything the benchmarks start (brokers, service processes, workers, temp dirs) registers its
 * teardown here, so a failure or Ctrl-C still stops it: nothing may outlive the run.
 */
type Teardown = () => Promise<void> | void;

const teardowns = new Map<number, { label: string; run: Teardown }>();
let nextId = 0;

/** Registers a teardown; the returned function runs it now (once) and unregisters it. */
export function onCleanup(label: string, run: Teardown): () => Promise<void> {
  const id = nextId++;
  teardowns.set(id, { label, run });
  return async () => {
    const entry = teardowns.get(id);
    if (!entry) return;
    teardowns.delete(id);
    await entry.run();
  };
}

/** Runs every pending teardown, newest first; one failing does not keep the others from running. */
export async function cleanupAll(): Promise<void> {
  const pending = [...teardowns.entries()].reverse();
  teardowns.clear();
  for (const [, { label, run }] of pending) {
    try {
      await run();
    } catch (error) {
      process.stderr.write(`cleanup of ${label} failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
}

/** SIGINT/SIGTERM and uncaught errors tear down before the process exits. */
export function installExitHandlers(): void {
  let exiting = false;
  const bail = (code: number) => {
    if (exiting) return;
    exiting = true;
    void cleanupAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => bail(130));
  process.on('SIGTERM', () => bail(143));
  process.on('uncaughtException', (error) => {
    process.stderr.write(`uncaught: ${error.stack ?? error.message}\n`);
    bail(1);
  });
}
