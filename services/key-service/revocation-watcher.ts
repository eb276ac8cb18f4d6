import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { readRevocationList, RevocationListError, type RevocationList } from '../../revocation/revocation-list.js';

export interface RevocationWatcherOptions {
  file: string;
  caCertPem: string;
  onList: (list: RevocationList) => void;
  /** A CRL that cannot be used: the previous one stays in force. */
  onRejected: (error: RevocationListError) => void;
  pollMs?: number;
}

/**
 * The CA's CRL as the service's view of revocation: read and checked at start (a bad one stops the
 * start), then re-read when the file changes or on `reload()` (SIGHUP), like Mosquitto's crlfile.
 */
export class RevocationWatcher {
  private current: RevocationList | undefined;
  private loading: Promise<void> = Promise.resolve();

  constructor(private readonly options: RevocationWatcherOptions) {}

  get list(): RevocationList | undefined {
    return this.current;
  }

  async start(): Promise<void> {
    const list = await this.read();
    this.accept(list);
    watchFile(this.options.file, { interval: this.options.pollMs ?? 1_000, persistent: false }, () => void this.reload());
  }

  /** Re-reads the file; one read at a time, in order. */
  reload(): Promise<void> {
    this.loading = this.loading.then(async () => {
      try {
        this.accept(await this.read());
      } catch (error) {
        this.options.onRejected(error instanceof RevocationListError ? error : new RevocationListError('malformed-crl', String(error)));
      }
    });
    return this.loading;
  }

  stop(): void {
    unwatchFile(this.options.file);
  }

  private async read(): Promise<RevocationList> {
    let pem: string;
    try {
      pem = readFileSync(this.options.file, 'utf8');
    } catch (error) {
      throw new RevocationListError('malformed-crl', `cannot read ${this.options.file}: ${(error as Error).message}`);
    }
    return readRevocationList(pem, this.options.caCertPem, new Date());
  }

  private accept(list: RevocationList): void {
    // An older CRL than the one in force (a stale copy restored) would un-revoke: keep the newer one.
    if (this.current && list.thisUpdate.getTime() < this.current.thisUpdate.getTime()) {
      this.options.onRejected(new RevocationListError('superseded', 'CRL is older than the one in force'));
      return;
    }
    this.current = list;
    this.options.onList(list);
  }
}
