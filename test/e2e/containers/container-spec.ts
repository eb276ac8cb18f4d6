import type Docker from 'dockerode';

/** Go durations as the provider takes them ("10s", "1m30s", "500ms") to nanoseconds for the Engine API. */
export function durationNs(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    const scale = { ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }[unit as 'ms' | 's' | 'm' | 'h'];
    total += Number(amount) * scale;
  }
  return total;
}

interface DeclaredContainer {
  name: string;
  image: string;
  command?: string[];
  entrypoints?: string[];
  envs?: string[];
  user?: string;
  labels?: { label: string; value: string }[];
  ports?: { internal: number; external?: number; ip?: string; protocol?: string }[];
  networksAdvanced?: { name: string; aliases?: string[] }[];
  networkMode?: string;
  volumes?: { volumeName?: string; hostPath?: string; containerPath?: string; readOnly?: boolean }[];
  healthcheck?: { tests?: string[]; interval?: string; timeout?: string; retries?: number; startPeriod?: string };
  readOnly?: boolean;
  privileged?: boolean;
  capabilities?: { adds?: string[]; drops?: string[] };
  securityOpts?: string[];
  tmpfs?: Record<string, string>;
  restart?: string;
  logDriver?: string;
  logOpts?: Record<string, string>;
  memory?: number;
}

/**
 * The Engine API create options for a docker.Container exactly as the program declared it. The only
 * substitution is the image reference, resolved by the caller (digests are fake under mocks).
 */
export function createOptions(declared: Record<string, unknown>, image: string): Docker.ContainerCreateOptions {
  const c = declared as unknown as DeclaredContainer;
  const [primary, ...otherNetworks] = c.networksAdvanced ?? [];
  if (otherNetworks.length > 0) throw new Error(`${c.name}: more than one network is not supported by the harness`);
  const exposed = Object.fromEntries((c.ports ?? []).map((p) => [`${p.internal}/${p.protocol ?? 'tcp'}`, {}]));
  const bindings = Object.fromEntries(
    (c.ports ?? []).map((p) => [`${p.internal}/${p.protocol ?? 'tcp'}`, [{ HostIp: p.ip ?? '0.0.0.0', HostPort: String(p.external ?? '') }]]),
  );
  const mounts = (c.volumes ?? []).map((v) =>
    v.volumeName
      ? { Type: 'volume' as const, Source: v.volumeName, Target: v.containerPath ?? '', ReadOnly: Boolean(v.readOnly) }
      : { Type: 'bind' as const, Source: v.hostPath ?? '', Target: v.containerPath ?? '', ReadOnly: Boolean(v.readOnly) },
  );
  const health = c.healthcheck;
  return {
    name: c.name,
    Image: image,
    ...(c.command ? { Cmd: c.command } : {}),
    ...(c.entrypoints ? { Entrypoint: c.entrypoints } : {}),
    Env: c.envs ?? [],
    ...(c.user ? { User: c.user } : {}),
    Labels: Object.fromEntries((c.labels ?? []).map((l) => [l.label, l.value])),
    ExposedPorts: exposed,
    ...(health?.tests?.length
      ? {
          Healthcheck: {
            Test: health.tests,
            Interval: durationNs(health.interval),
            Timeout: durationNs(health.timeout),
            Retries: health.retries,
            StartPeriod: durationNs(health.startPeriod),
          },
        }
      : {}),
    HostConfig: {
      NetworkMode: c.networkMode ?? primary?.name,
      PortBindings: bindings,
      Mounts: mounts,
      ReadonlyRootfs: Boolean(c.readOnly),
      Privileged: Boolean(c.privileged),
      CapAdd: c.capabilities?.adds ?? [],
      CapDrop: c.capabilities?.drops ?? [],
      SecurityOpt: c.securityOpts ?? [],
      Tmpfs: c.tmpfs ?? {},
      RestartPolicy: { Name: c.restart ?? 'no' },
      ...(c.logDriver ? { LogConfig: { Type: c.logDriver, Config: c.logOpts ?? {} } } : {}),
      ...(c.memory ? { Memory: c.memory * 1024 * 1024 } : {}),
    },
    ...(primary ? { NetworkingConfig: { EndpointsConfig: { [primary.name]: { Aliases: primary.aliases ?? [] } } } } : {}),
  };
}
