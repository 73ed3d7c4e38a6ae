import { GraphQLError } from 'graphql';
import type { GatewayErrorCode, UpstreamFailure } from '../graph/outcomes.js';

/** A typed GraphQL error for one IGSID, with the facts a client needs in `extensions`. */
export function upstreamError(igsid: string, failure: UpstreamFailure): GraphQLError {
  return new GraphQLError(failure.message, {
    extensions: {
      code: failure.code,
      igsid,
      retryable: failure.retryable,
      ...(failure.retryAfterSeconds !== undefined ? { retryAfterSeconds: failure.retryAfterSeconds } : {}),
      ...(failure.graph ? { graph: failure.graph } : {}),
    },
  });
}

export function badUserInput(message: string, igsid?: string): GraphQLError {
  const code: GatewayErrorCode = 'BAD_USER_INPUT';
  return new GraphQLError(message, {
    extensions: { code, retryable: false, ...(igsid !== undefined ? { igsid } : {}) },
  });
}
