import { parseMosquittoConf, type MosquittoConf } from '../broker-config/mosquitto-conf-parser.js';

/** Facts policies read off resource inputs; kept here so each policy file says only what it checks. */
export const PRIVATE_KEY_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

export interface UploadInput {
  file: string;
  content?: string;
  contentBase64?: string;
}

export function uploadsOf(container: { uploads?: unknown }): UploadInput[] {
  return Array.isArray(container.uploads) ? (container.uploads as UploadInput[]) : [];
}

export function uploadText(upload: UploadInput): string {
  if (typeof upload.content === 'string') return upload.content;
  if (typeof upload.contentBase64 === 'string') return Buffer.from(upload.contentBase64, 'base64').toString('utf8');
  return '';
}

/** The path mosquitto is started with (`-c path`), else the image's default. */
function configPath(container: { command?: unknown }): string {
  const command = Array.isArray(container.command) ? (container.command as string[]) : [];
  const at = command.indexOf('-c');
  return at >= 0 && command[at + 1] ? command[at + 1]! : '/mosquitto/config/mosquitto.conf';
}

function looksLikeMosquitto(container: { image?: unknown; command?: unknown }): boolean {
  const text = `${String(container.image ?? '')} ${JSON.stringify(container.command ?? [])}`;
  return /mosquitto/i.test(text);
}

export type BrokerConfig =
  | { kind: 'none' }
  | { kind: 'missing'; path: string }
  /** The configuration directory is a volume: the files are checked where they are uploaded. */
  | { kind: 'volume'; path: string; volumeName: string }
  | { kind: 'found'; path: string; conf: MosquittoConf; uploads: UploadInput[] };

/** The Mosquitto configuration a container runs with, read from its uploads (with include_dir files). */
export function brokerConfigOf(container: { image?: unknown; command?: unknown; uploads?: unknown; volumes?: unknown }): BrokerConfig {
  const uploads = uploadsOf(container);
  const path = configPath(container);
  const main = uploads.find((u) => u.file === path) ?? uploads.find((u) => u.file.endsWith('/mosquitto.conf'));
  if (!main) {
    if (!looksLikeMosquitto(container)) return { kind: 'none' };
    const volume = volumeHolding(container, path);
    return volume ? { kind: 'volume', path, volumeName: volume } : { kind: 'missing', path };
  }
  const inDir = (dir: string): [string, string][] =>
    uploads.filter((u) => u.file.startsWith(`${dir.replace(/\/$/, '')}/`)).map((u) => [u.file, uploadText(u)]);
  return { kind: 'found', path: main.file, conf: parseMosquittoConf(uploadText(main), inDir, main.file), uploads };
}

interface VolumeInput {
  volumeName?: string;
  containerPath?: string;
}

/** The named volume mounted over `path` (or a parent of it), if any. */
export function volumeHolding(container: { volumes?: unknown }, path: string): string | undefined {
  const volumes = Array.isArray(container.volumes) ? (container.volumes as VolumeInput[]) : [];
  const mount = volumes
    .filter((v) => v.volumeName && v.containerPath && (path === v.containerPath || path.startsWith(`${v.containerPath.replace(/\/$/, '')}/`)))
    .sort((a, b) => (b.containerPath ?? '').length - (a.containerPath ?? '').length)[0];
  return mount?.volumeName;
}

