import { createGateway } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';

/** Values no log line may contain. */
function secretsOf(config: Config): Array<string | undefined> {
  const redisPassword = config.cache.redisUrl ? decodeURIComponent(new URL(config.cache.redisUrl).password) : undefined;
  return [config.accessToken, config.appSecret, config.webhook.verifyToken, redisPassword];
}

/** `npm start`: validate the environment, start the gateway, stop cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, secrets: secretsOf(config) });
  const gateway = await createGateway(config, logger);
  const address = await gateway.listen();
  logger.info({ address, graphql: `${address}/graphql`, strategy: config.batchStrategy, version: config.apiVersion }, 'ig-profile-gateway listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  // One readable line, never a stack trace: configuration mistakes are the common case.
  const message = error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error);
  process.stderr.write(`ig-profile-gateway: cannot start: ${message}\n`);
  process.exit(1);
});
