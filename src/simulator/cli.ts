// `npm run simulator`: the simulator alone, for poking at it with curl.
import { startSimulator } from './index.js';

const port = Number(process.env.PORT ?? 4010);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`simulator: PORT must be a whole number between 0 and 65535 (got "${process.env.PORT}")`);
  process.exit(1);
}
const simulator = await startSimulator({ port, host: process.env.HOST ?? '127.0.0.1' });
console.log(`Graph API simulator listening on ${simulator.url}`);
console.log(`try: curl -H 'Authorization: Bearer any-token' '${simulator.url}/v23.0/1784140000000001?fields=name,username,profile_pic'`);

const stop = () => {
  void simulator.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
