import { ConfigError } from '../../env-config/env-reader.js';
import { loadConfig } from './config.js';
import { KeyService } from './key-service.js';
import { createLogger } from './logger.js';

/** Entry point: configuration from the environment, graceful stop on SIGTERM/SIGINT, CRL reload on SIGHUP. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  // Like Mosquitto, SIGHUP re-reads the revocation list. Handled from the start: Node's default for an
  // unhandled SIGHUP is to exit. Before the service is up there is nothing to reload (it reads the file as it starts).
  let service: KeyService | undefined;
  process.on('SIGHUP', () => void service?.reloadRevocations());
  service = await KeyService.start(config, log, (error) => {
    log.fatal({ err: error instanceof Error ? error.message : String(error) }, 'storage failed; exiting so the broker redelivers');
    process.exit(1);
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await service?.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`key-service failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
