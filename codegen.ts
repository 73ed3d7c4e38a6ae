import type { CodegenConfig } from '@graphql-codegen/cli';

// Resolver types are generated from the SDL; never edit src/__generated__ by hand.
const config: CodegenConfig = {
  schema: 'schema/*.graphql',
  generates: {
    'src/__generated__/resolvers-types.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        federation: true,
        useIndexSignature: true,
        enumsAsTypes: true,
        contextType: '../schema/context.js#GatewayContext',
        mappers: { InstagramUser: '../graph/profile.js#GraphProfile', InstagramContactEdge: '../schema/contacts.js#ContactEdge' },
        scalars: { ID: 'string' },
      },
    },
  },
};
export default config;
