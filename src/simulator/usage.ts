// Rate-limit headers. Meta sends them as JSON strings; numbers are percentages of the allowance,
// estimated_time_to_regain_access is in minutes.
import type { SimAnswer } from './errors.js';
import type { BusinessUsageNumbers, SimulatorOptions, UsageNumbers } from './types.js';

export const DEFAULT_APP_USAGE: UsageNumbers = { call_count: 1, total_time: 1, total_cputime: 1 };
export const DEFAULT_BUSINESS_USAGE: BusinessUsageNumbers = { call_count: 2, total_time: 1, total_cputime: 1, estimated_time_to_regain_access: 0 };

export function usageHeaders(options: SimulatorOptions, businessId: string, throttle?: SimAnswer['throttle']): Record<string, string> {
  const app = { ...DEFAULT_APP_USAGE, ...options.appUsage };
  const business = { ...DEFAULT_BUSINESS_USAGE, ...options.businessUsage };
  if (throttle?.appCallCount !== undefined) app.call_count = throttle.appCallCount;
  if (throttle?.businessCallCount !== undefined) business.call_count = throttle.businessCallCount;
  if (throttle) business.estimated_time_to_regain_access = throttle.etaMinutes;
  return {
    'X-App-Usage': JSON.stringify({ call_count: app.call_count, total_time: app.total_time, total_cputime: app.total_cputime }),
    'X-Business-Use-Case-Usage': JSON.stringify({
      [businessId]: [
        {
          type: 'instagram',
          call_count: business.call_count,
          total_cputime: business.total_cputime,
          total_time: business.total_time,
          estimated_time_to_regain_access: business.estimated_time_to_regain_access,
        },
      ],
    }),
  };
}
