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
  const service = await KeyService.start(config, log, (error) => {
    log.fatal({ err: error instanceof Error ? error.message : String(error) }, 'storage failed; exiting so the broker redelivers');
    process.exit(1);
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await service.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // Like Mosquitto: SIGHUP re-reads the revocation list.
  process.on('SIGHUP', () => void service.reloadRevocations());
}

main().catch((error: unknown) => {
  process.stderr.write(`key-service failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
