import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import type { Attribute, Property, PropertyType, Resource, SpecDatabase, TypeDefinition } from '@aws-cdk/service-spec-types';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { CfnTemplate } from '../package-inspection';

/**
 * Checks a CloudFormation template against CloudFormation's own resource specifications, offline: for every resource,
 * its type exists, every property name is known (a misspelt one fails), required properties are present, and each
 * value has the property's type (string, integer, boolean, list, map, nested object with its own known properties,
 * allowed values where the specification lists them). `Ref` and `Fn::GetAtt` must name a resource of the template and
 * an attribute that resource has.
 *
 * The specifications come from `@aws-cdk/aws-service-spec` (the database the AWS CDK generates its L1 constructs from,
 * built from the CloudFormation registry schemas). It keeps names, types, required flags and allowed values, but not
 * the registry's string patterns, lengths or numeric ranges: those are not checked here.
 */

type JsonSchema = Record<string, unknown>;
type Json = Record<string, unknown>;

/** Intrinsic functions stand wherever a value (or a whole list) is expected; CloudFormation resolves them. */
const INTRINSICS = [
  'Ref',
  'Fn::GetAtt',
  'Fn::Sub',
  'Fn::Join',
  'Fn::If',
  'Fn::Select',
  'Fn::Split',
  'Fn::ImportValue',
  'Fn::FindInMap',
  'Fn::Base64',
  'Fn::GetAZs',
  'Fn::Cidr',
  'Fn::Length',
  'Fn::ToJsonString',
];
const INTRINSIC: JsonSchema = { type: 'object', minProperties: 1, maxProperties: 1, propertyNames: { enum: INTRINSICS } };

/** The attributes every resource entry may carry besides Type and Properties. */
const RESOURCE_KEYS = ['Type', 'Properties', 'DependsOn', 'Condition', 'DeletionPolicy', 'UpdateReplacePolicy', 'Metadata', 'CreationPolicy', 'UpdatePolicy'];

export interface SchemaProblem {
  readonly logicalId: string;
  /** JSON pointer into the resource's Properties, or the resource attribute at fault. */
  readonly path: string;
  readonly message: string;
}

function orIntrinsic(schema: JsonSchema): JsonSchema {
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keywords, not a thenable.
  return { if: INTRINSIC, then: true, else: schema };
}

export class ResourceSchemas {
  private readonly db: SpecDatabase;
  private readonly ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly resources = new Map<string, Resource | undefined>();

  constructor(db: SpecDatabase = loadAwsServiceSpecSync()) {
    this.db = db;
  }

  resource(cfnType: string): Resource | undefined {
    if (!this.resources.has(cfnType)) {
      const found = this.db.lookup('resource', 'cloudFormationType', 'equals', cfnType);
      this.resources.set(cfnType, found.length === 1 ? found[0] : undefined);
    }
    return this.resources.get(cfnType);
  }

  /** Every problem of every resource of the template; empty when CloudFormation's specifications accept it all. */
  validate(template: CfnTemplate): SchemaProblem[] {
    const problems: SchemaProblem[] = [];
    for (const [logicalId, entry] of Object.entries(template.Resources)) {
      const declared = entry as unknown as Json;
      for (const key of Object.keys(declared)) {
        if (!RESOURCE_KEYS.includes(key)) problems.push({ logicalId, path: key, message: `unknown resource attribute "${key}"` });
      }
      const resource = this.resource(entry.Type);
      if (!resource) {
        problems.push({ logicalId, path: 'Type', message: `unknown resource type ${entry.Type}` });
        continue;
      }
      const validate = this.validatorFor(resource);
      if (!validate(entry.Properties ?? {})) {
        // An "if" error only repeats that its "else" (the value's own type) failed, which is reported itself.
        for (const error of (validate.errors ?? []).filter((found) => found.keyword !== 'if')) problems.push({ logicalId, path: error.instancePath || '/', message: describe(error) });
      }
      problems.push(...this.references(template, logicalId, entry.Properties ?? {}));
    }
    return problems;
  }

  /** Ref and Fn::GetAtt name resources of the template (or pseudo parameters) and attributes those resources have. */
  private references(template: CfnTemplate, logicalId: string, value: unknown, path = ''): SchemaProblem[] {
    if (Array.isArray(value)) return value.flatMap((item, index) => this.references(template, logicalId, item, `${path}/${index}`));
    if (value === null || typeof value !== 'object') return [];
    const problems: SchemaProblem[] = [];
    const object = value as Json;
    if (typeof object.Ref === 'string' && !object.Ref.startsWith('AWS::') && !(object.Ref in template.Resources) && !(object.Ref in ((template as { Parameters?: Json }).Parameters ?? {}))) {
      problems.push({ logicalId, path, message: `Ref to ${object.Ref}, which the template does not declare` });
    }
    const getAtt = object['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && typeof getAtt[1] === 'string') {
      const target = template.Resources[getAtt[0]];
      const targetSpec = target ? this.resource(target.Type) : undefined;
      if (!target) problems.push({ logicalId, path, message: `Fn::GetAtt of ${getAtt[0]}, which the template does not declare` });
      else if (targetSpec && !(getAtt[1] in (targetSpec.attributes as Record<string, Attribute>))) {
        problems.push({ logicalId, path, message: `Fn::GetAtt ${getAtt[0]}.${getAtt[1]}: ${target.Type} has no attribute ${getAtt[1]}` });
      }
    }
    for (const [key, child] of Object.entries(object)) problems.push(...this.references(template, logicalId, child, `${path}/${key}`));
    return problems;
  }

  private validatorFor(resource: Resource): ValidateFunction {
    let validate = this.validators.get(resource.cloudFormationType);
    if (!validate) {
      const definitions: Record<string, JsonSchema> = {};
      const root = this.objectSchema(resource.properties, definitions);
      validate = this.ajv.compile({ ...root, $defs: definitions });
      this.validators.set(resource.cloudFormationType, validate);
    }
    return validate;
  }

  private objectSchema(properties: Record<string, Property>, definitions: Record<string, JsonSchema>): JsonSchema {
    const required = Object.entries(properties)
      .filter(([, property]) => property.required)
      .map(([name]) => name);
    return {
      type: 'object',
      properties: Object.fromEntries(
        Object.entries(properties).map(([name, property]) => {
          // A property whose type changed over time still accepts its earlier types (as CloudFormation does).
          const types = [property.type, ...(property.previousTypes ?? [])];
          const schemas = types.map((type) => this.typeSchema(type, definitions));
          return [name, orIntrinsic(schemas.length === 1 ? (schemas[0] as JsonSchema) : { anyOf: schemas })];
        }),
      ),
      ...(required.length > 0 ? { required } : {}),
      additionalProperties: false,
    };
  }

  private typeSchema(type: PropertyType, definitions: Record<string, JsonSchema>): JsonSchema {
    switch (type.type) {
      case 'string':
        return type.allowedValues ? { enum: type.allowedValues } : { type: 'string' };
      case 'date-time':
        return { type: 'string' };
      case 'integer':
        return type.allowedValues ? { enum: type.allowedValues } : { type: 'integer' };
      case 'number':
        return { type: 'number' };
      case 'boolean':
        return { type: 'boolean' };
      case 'null':
        return { type: 'null' };
      case 'json':
        // Free-form JSON (policy documents, dashboards' bodies as objects): any object, or its text.
        return { type: ['object', 'string'] };
      case 'tag':
        return { type: 'object', properties: { Key: orIntrinsic({ type: 'string' }), Value: orIntrinsic({ type: 'string' }) }, required: ['Key', 'Value'], additionalProperties: false };
      case 'array':
        return { type: 'array', items: orIntrinsic(this.typeSchema(type.element, definitions)) };
      case 'map':
        return { type: 'object', additionalProperties: orIntrinsic(this.typeSchema(type.element, definitions)) };
      case 'union':
        return { anyOf: type.types.map((member) => this.typeSchema(member, definitions)) };
      case 'ref': {
        const id = type.reference.$ref;
        const key = `t${id}`;
        if (!(key in definitions)) {
          definitions[key] = {}; // placed first: recursive types refer to themselves
          const definition = this.db.get('typeDefinition', id) as TypeDefinition;
          definitions[key] = this.objectSchema(definition.properties, definitions);
        }
        return { $ref: `#/$defs/${key}` };
      }
      default:
        throw new Error(`unhandled property type ${JSON.stringify(type)}`);
    }
  }
}

function describe(error: ErrorObject): string {
  switch (error.keyword) {
    case 'additionalProperties':
      return `unknown property "${(error.params as { additionalProperty: string }).additionalProperty}"`;
    case 'required':
      return `missing required property "${(error.params as { missingProperty: string }).missingProperty}"`;
    case 'enum':
      return `must be one of ${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)}`;
    default:
      return error.message ?? error.keyword;
  }
}

/** One line per problem, for test failure messages. */
export function formatProblems(problems: readonly SchemaProblem[]): string {
  return problems.map((problem) => `${problem.logicalId} ${problem.path}: ${problem.message}`).join('\n');
}
