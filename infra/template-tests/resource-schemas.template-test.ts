import { beforeAll, describe, expect, inject, it } from 'vitest';
import { readTemplate } from '../package-inspection';
import type { ScenarioName } from './package-setup';
import { formatProblems, ResourceSchemas } from './resource-schemas';

/**
 * Would CloudFormation accept what `serverless package` wrote? Every resource of every scenario's template, checked
 * against CloudFormation's own resource specifications (names, types, required properties, allowed values, references).
 */

let schemas: ResourceSchemas;
beforeAll(() => {
  schemas = new ResourceSchemas();
}, 120_000);

describe('the packaged templates match CloudFormation resource specifications', () => {
  const scenarios: ScenarioName[] = ['mskIam', 'selfManagedScram', 'createdInfrastructure'];
  it.each(scenarios)('%s', (scenario) => {
    const template = readTemplate(inject('templatePackages')[scenario]);
    const types = new Set(Object.values(template.Resources).map((resource) => resource.Type));

    expect(formatProblems(schemas.validate(template))).toBe('');
    // The check covered the resources it exists for, not an empty template.
    expect(types).toContain('AWS::Lambda::EventSourceMapping');
    if (scenario === 'createdInfrastructure') {
      expect(types).toContain('AWS::MSK::ServerlessCluster');
      expect(types).toContain('AWS::OpenSearchService::Domain');
    }
  });
});
