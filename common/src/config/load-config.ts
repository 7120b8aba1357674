import Joi from 'joi';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Validates the environment against a joi schema whose keys are variable names and returns
 * the converted values. Unknown variables are ignored (the environment holds many).
 * Throws a ConfigError naming the first bad variable.
 */
export function loadConfig<T>(
  schema: Joi.ObjectSchema<T>,
  env: NodeJS.ProcessEnv = process.env,
): T {
  // Empty strings count as unset, so `FOO=` in a .env file falls back to the default.
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const { value, error } = schema.validate(cleaned, {
    allowUnknown: true,
    stripUnknown: true,
    abortEarly: true,
    convert: true,
  });
  if (error) {
    const detail = error.details[0];
    const variable = detail ? String(detail.path.join('.')) : 'unknown';
    throw new ConfigError(variable, `Invalid configuration: ${variable}: ${error.message}`);
  }
  return value as T;
}

/** For main.ts: one clear line on stderr and exit code 1 instead of a stack trace. */
export function loadConfigOrExit<T>(
  schema: Joi.ObjectSchema<T>,
  env: NodeJS.ProcessEnv = process.env,
): T {
  try {
    return loadConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
