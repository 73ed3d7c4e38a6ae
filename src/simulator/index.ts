// An independent fake of graph.instagram.com for demo mode and tests. It shares no code with the
// gateway's client on purpose: a bug in the client's idea of the Graph API cannot hide here.
// See README.md for the behaviour, the built-in demo IGSIDs and the choices made where Meta is silent.
import { startServer } from './server.js';
import type { Simulator, SimulatorOptions } from './types.js';

export { DEFAULT_BUSINESS_ID, DEFAULT_MAX_LOGGED_CALLS } from './types.js';
export type { BusinessUsageNumbers, Scenario, SimCall, Simulator, SimulatorOptions, SimProfile, TokenRefreshOptions, UsageNumbers } from './types.js';
export { simulatedProfile } from './profiles.js';
export { DEMO_PREFIXES } from './scenarios.js';

/** Starts the simulator on host:port (default 127.0.0.1, an ephemeral port). */
export function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  return startServer(options);
}
