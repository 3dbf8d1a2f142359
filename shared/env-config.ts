import { z } from 'zod';
import { CdcError } from './errors';

/**
 * Parses environment variables with a schema whose keys are the variable names, once, at cold start. Every problem is
 * reported at once, each naming its variable, so a misconfigured function fails before it touches any service.
 */
export function parseEnv<Shape extends z.ZodRawShape>(
  shape: Shape,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<Shape>> {
  const present: Record<string, string> = {};
  for (const name of Object.keys(shape)) {
    const value = env[name];
    if (value !== undefined && value !== '') present[name] = value;
  }
  const result = z.object(shape).safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const [variable, ...rest] = issue.path.map(String);
      const where = rest.length > 0 ? ` (at ${rest.join('.')})` : '';
      const what = issue.code === 'invalid_type' && present[variable ?? ''] === undefined ? 'is required' : issue.message;
      return `environment variable ${variable}${where}: ${what}`;
    });
    throw new CdcError('CONFIG_INVALID', `invalid configuration:\n- ${problems.join('\n- ')}`);
  }
  return result.data;
}

/** A variable holding JSON, validated by an inner schema, with the JSON error named like any other. */
export function jsonVariable<T extends z.ZodType>(inner: T) {
  return z.string().transform((text, context): z.infer<T> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      context.addIssue({ code: 'custom', message: `is not valid JSON (${(error as Error).message})` });
      return z.NEVER;
    }
    const result = inner.safeParse(parsed);
    if (!result.success) {
      for (const issue of result.error.issues) {
        context.addIssue({ code: 'custom', message: issue.message, path: issue.path });
      }
      return z.NEVER;
    }
    return result.data;
  });
}

export const commaList = z
  .string()
  .transform((text) => text.split(',').map((part) => part.trim()).filter((part) => part !== ''))
  .pipe(z.array(z.string()).min(1, 'must name at least one value'));
