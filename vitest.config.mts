import { defineConfig } from 'vitest/config';

// Unit tests (*.test.ts) never touch a service; integration tests (*.int.test.ts) only ever talk to real ones,
// started by the global setup when they are not already running.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{functions,shared,infra,test}/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{functions,shared,infra,test}/**/*.int.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        // What `serverless deploy` would create: packages the service offline once per scenario, then reads the
        // CloudFormation templates. Needs no AWS account and no local services.
        test: {
          name: 'template',
          include: ['infra/**/*.template-test.ts'],
          globalSetup: ['infra/template-tests/package-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
