import { existsSync } from 'node:fs';

/** Raised with every problem found, so one start-up attempt tells the operator everything to fix. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly component: string,
    readonly problems: string[],
  ) {
    super(`invalid ${component} configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Reads settings from an environment, collecting problems instead of stopping at the first. */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  private raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  text(name: string, fallback?: string): string {
    const value = this.raw(name) ?? fallback;
    if (value === undefined) this.problems.push(`${name} is required`);
    return value ?? '';
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name) ?? fallback;
    if (!allowed.includes(value as T)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
      return fallback;
    }
    return value as T;
  }

  file(name: string): string;
  file(name: string, optional: 'optional'): string | undefined;
  file(name: string, optional?: 'optional'): string | undefined {
    const value = this.raw(name);
    if (value === undefined) {
      if (!optional) this.problems.push(`${name} is required (a file path)`);
      return optional ? undefined : '';
    }
    if (!existsSync(value)) this.problems.push(`${name}: no file at ${value}`);
    return value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  mqttsUrl(name: string): string {
    const value = this.text(name);
    if (value && !/^mqtts:\/\/[^/\s]+:\d+\/?$/.test(value)) {
      this.problems.push(`${name} must be mqtts://host:port (TLS only), got "${value}"`);
    }
    return value;
  }

  /** Throws a ConfigError listing every problem, if there were any. */
  done(component: string): void {
    if (this.problems.length > 0) throw new ConfigError(component, this.problems);
  }
}
