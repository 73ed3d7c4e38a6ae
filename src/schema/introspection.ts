import { GraphQLError, type ValidationRule } from 'graphql';

/**
 * Refuses `__schema` / `__type` when INTROSPECTION is off, naming the setting (Apollo's own rule
 * tells operators to pass `introspection: true` to a constructor they never see). `__typename`
 * stays allowed: clients and federation need it.
 */
export const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    const name = node.name.value;
    if (name === '__schema' || name === '__type') {
      context.reportError(
        new GraphQLError(`GraphQL introspection is not allowed on this gateway (the query asked for ${name}): set INTROSPECTION=true to allow it.`, {
          nodes: node,
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        }),
      );
    }
  },
});
