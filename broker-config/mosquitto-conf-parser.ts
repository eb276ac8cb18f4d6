/**
 * Reads mosquitto.conf the way Mosquitto 2.0 does, for policies that judge any broker configuration:
 * comments and blank lines ignored, `listener` opening a block, settings before the first listener
 * belonging to the default listener, `include_dir` pulling in `*.conf` files in name order.
 */

/** Options that configure a listener (mosquitto.conf(5), "Listeners"); everything else is global. */
const LISTENER_OPTIONS = new Set([
  'bind_address', 'bind_interface', 'http_dir', 'max_connections', 'max_qos', 'max_topic_alias', 'mount_point', 'port', 'protocol',
  'socket_domain', 'use_username_as_clientid', 'websockets_log_level', 'websockets_headers_size',
  'cafile', 'capath', 'certfile', 'keyfile', 'ciphers', 'ciphers_tls1.3', 'crlfile', 'dhparamfile', 'require_certificate',
  'tls_engine', 'tls_engine_kpass_sha1', 'tls_keyform', 'tls_version', 'use_identity_as_username', 'use_subject_as_username',
  'psk_hint', 'psk_file',
]);
/** Authentication options: global unless per_listener_settings is true. */
const AUTH_OPTIONS = new Set(['allow_anonymous', 'acl_file', 'password_file', 'plugin', 'auth_plugin', 'allow_zero_length_clientid', 'auto_id_prefix']);

export type Settings = Map<string, string[]>;

export interface ListenerBlock {
  /** The `listener` line's port, or 'default' for settings given before any listener. */
  port: string;
  bindAddress: string | undefined;
  settings: Settings;
  /** Where the block came from, for messages: file and line. */
  origin: string;
}

export interface MosquittoConf {
  global: Settings;
  listeners: ListenerBlock[];
  perListenerSettings: boolean;
  /** Directories named by include_dir; their files must be supplied to be read. */
  includeDirs: string[];
}

function add(settings: Settings, key: string, value: string): void {
  settings.set(key, [...(settings.get(key) ?? []), value]);
}

/**
 * Parses a configuration. `readIncluded(dir)` returns the files of an include_dir as [name, text];
 * files the caller cannot supply are simply absent (a policy then reports the gap).
 */
export function parseMosquittoConf(text: string, readIncluded: (dir: string) => [string, string][] = () => [], file = 'mosquitto.conf'): MosquittoConf {
  const conf: MosquittoConf = { global: new Map(), listeners: [], perListenerSettings: false, includeDirs: [] };
  let current: ListenerBlock | undefined;
  let defaultListener: ListenerBlock | undefined;

  const consume = (source: string, name: string) => {
    source.split(/\r?\n/).forEach((raw, index) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const [key = '', ...rest] = line.split(/\s+/);
      const value = rest.join(' ');
      const origin = `${name}:${index + 1}`;
      if (key === 'listener') {
        const [port = '', bindAddress] = rest;
        current = { port, bindAddress, settings: new Map(), origin };
        conf.listeners.push(current);
      } else if (key === 'include_dir') {
        conf.includeDirs.push(value);
        for (const [includedName, includedText] of readIncluded(value).sort(([a], [b]) => a.localeCompare(b))) {
          if (includedName.endsWith('.conf')) consume(includedText, includedName);
        }
      } else if (key === 'per_listener_settings') {
        conf.perListenerSettings = value === 'true';
        add(conf.global, key, value);
      } else if (LISTENER_OPTIONS.has(key) || (AUTH_OPTIONS.has(key) && conf.perListenerSettings)) {
        let target = current;
        if (!target) {
          defaultListener ??= { port: 'default', bindAddress: undefined, settings: new Map(), origin };
          target = defaultListener;
        }
        add(target.settings, key, value);
      } else {
        add(conf.global, key, value);
      }
    });
  };
  consume(text, file);
  if (defaultListener) conf.listeners.unshift(defaultListener);
  return conf;
}

/** The last value of a setting (Mosquitto keeps the last), looked up in a listener then globally. */
export function setting(conf: MosquittoConf, listener: ListenerBlock | undefined, key: string): string | undefined {
  const own = listener?.settings.get(key);
  if (own?.length) return own[own.length - 1];
  if (conf.perListenerSettings && AUTH_OPTIONS.has(key)) return undefined;
  const global = conf.global.get(key);
  return global?.length ? global[global.length - 1] : undefined;
}
