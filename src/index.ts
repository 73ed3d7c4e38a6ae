import { createGateway } from './app.js';
import { ConfigError, configSecrets, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { describeListenError } from './startup-errors.js';

/** `npm start`: validate the environment, start the gateway, stop cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, secrets: configSecrets(config), format: config.log.format });
  const gateway = await createGateway(config, logger);
  const address = await gateway.listen().catch((error: unknown) => {
    throw describeListenError(error, config.server);
  });
  logger.info(
    {
      address,
      graphql: `${address}/graphql`,
      playground: config.server.playground ? `${address}/playground` : 'off (PLAYGROUND)',
      mode: config.simulated ? 'demo: simulated data' : config.production ? 'production' : 'development',
      strategy: config.graph.strategy,
      version: config.graph.apiVersion,
      accounts: gateway.accounts.list().map((a) => a.id),
      apiKeys: config.apiKeys?.length ?? 0,
    },
    'ig-profile-gateway listening',
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutMs: config.server.shutdownTimeoutMs }, 'shutting down: no new connections, finishing requests in flight');
    // Bounded: a request that never ends must not keep a stopping process alive.
    setTimeout(() => {
      logger.error({ timeoutMs: config.server.shutdownTimeoutMs }, 'requests still in flight after SHUTDOWN_TIMEOUT_MS: exiting anyway');
      process.exit(1);
    }, config.server.shutdownTimeoutMs).unref();
    gateway.close().then(
      () => {
        logger.info('shut down cleanly');
        process.exit(0);
      },
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
