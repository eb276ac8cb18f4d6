import { chmodSync, closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Reading } from '../../protocol/readings.js';

/** One decrypted reading with where it came from; (deviceId, keyId, seq, index) identifies it. */
export interface StoredReading extends Reading {
  deviceId: string;
  keyId: number;
  seq: number;
  index: number;
  receivedAt: number;
}

export interface PersistedSession {
  deviceId: string;
  keyId: number;
  scheme: string;
  /** Session keys sealed with the store's key-encryption key (see session-vault.ts). */
  sealedKeys: Buffer;
  establishedAt: number;
  /** undefined while current; when set, the session is accepted until then and then forgotten. */
  retireAt: number | undefined;
  /** Serial of the device certificate the exchange was signed with: revoking it ends the session. */
  certificateSerial: string | undefined;
}

export interface DeviceSummary {
  deviceId: string;
  readings: number;
  firstReadingAt: number | null;
  lastReadingAt: number | null;
  lastKeyExchangeAt: number | null;
  certificateNotAfter: number | null;
}

export interface ReadingQuery {
  deviceId?: string;
  since?: number;
  limit: number;
}

/**
 * SQLite storage (WAL): readings, sessions, exchange nonces and devices. A reading's primary key makes
 * storage exactly-once even if a duplicate slipped past the replay window.
 */
export class ReadingsStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(path: string) {
    // Decrypted readings live here: owner-only, whatever the umask or the image's directory modes.
    // SQLite gives the -wal and -shm files the database file's permissions.
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL survives a killed process (the WAL is in the page cache); only power loss can drop
    // the last commits, which is the trade-off every broker in the chain already makes.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS readings (
        device_id TEXT NOT NULL, key_id INTEGER NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL,
        taken_at INTEGER NOT NULL, temperature_c REAL NOT NULL, humidity_pct REAL NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, key_id, seq, idx)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS readings_by_time ON readings (taken_at);
      CREATE TABLE IF NOT EXISTS sessions (
        device_id TEXT NOT NULL, key_id INTEGER NOT NULL, scheme TEXT NOT NULL, sealed_keys BLOB NOT NULL,
        established_at INTEGER NOT NULL, retire_at INTEGER, cert_serial TEXT,
        PRIMARY KEY (device_id, key_id)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS kex_nonces (
        device_id TEXT NOT NULL, nonce BLOB NOT NULL, expires_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, nonce)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS devices (
        device_id TEXT PRIMARY KEY, last_kex_at INTEGER, cert_not_after INTEGER
      ) WITHOUT ROWID;
    `);
    // Databases made before sessions remembered their certificate gain the column. Their sessions are
    // dropped: a session whose certificate is unknown could not be ended by revocation. Devices
    // re-key on their next envelope (unknown-session brings a rekey request).
    const sessionColumns = this.db.prepare("SELECT name FROM pragma_table_info('sessions')").all() as { name: string }[];
    if (!sessionColumns.some((c) => c.name === 'cert_serial')) {
      this.db.transaction(() => {
        this.db.exec('ALTER TABLE sessions ADD COLUMN cert_serial TEXT');
        this.db.exec('DELETE FROM sessions');
      })();
    }
    const db = this.db;
    this.statements = {
      begin: db.prepare('BEGIN'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      insertOne: db.prepare(insertSql(1)),
      insertMany: db.prepare(insertSql(INSERT_CHUNK)),
      upsertSession: db.prepare(
        'INSERT OR REPLACE INTO sessions (device_id, key_id, scheme, sealed_keys, established_at, retire_at, cert_serial) VALUES (@deviceId, @keyId, @scheme, @sealedKeys, @establishedAt, @retireAt, @certificateSerial)',
      ),
      deleteSession: db.prepare('DELETE FROM sessions WHERE device_id = ? AND key_id = ?'),
      allSessions: db.prepare('SELECT * FROM sessions'),
      upsertDevice: db.prepare(
        'INSERT INTO devices VALUES (?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET last_kex_at = excluded.last_kex_at, cert_not_after = excluded.cert_not_after',
      ),
      insertNonce: db.prepare('INSERT OR IGNORE INTO kex_nonces VALUES (?, ?, ?)'),
      purgeNonces: db.prepare('DELETE FROM kex_nonces WHERE expires_at < ?'),
      recentSeqs: db.prepare(
        'SELECT DISTINCT seq FROM readings WHERE device_id = ? AND key_id = ? AND seq > (SELECT coalesce(max(seq), -1) FROM readings WHERE device_id = ? AND key_id = ?) - ? ORDER BY seq',
      ),
    };
  }

  private insertRows(readings: readonly StoredReading[]): number {
    let inserted = 0;
    let i = 0;
    // Multi-row statements with positional parameters: the per-row binding cost dominates otherwise.
    for (; i + INSERT_CHUNK <= readings.length; i += INSERT_CHUNK) {
      inserted += this.statements.insertMany.run(positional(readings, i, INSERT_CHUNK)).changes;
    }
    for (; i < readings.length; i++) inserted += this.statements.insertOne.run(positional(readings, i, 1)).changes;
    return inserted;
  }

  /**
   * One transaction spanning a group of messages (ack-after-commit.ts): opened before the first, so
   * every write they cause joins it (nested transactions become savepoints), and committed together
   * with the group's readings. Answers how many rows were new.
   */
  readonly group = {
    begin: (): void => {
      this.statements.begin.run();
    },
    commit: (readings: readonly StoredReading[]): number => {
      const inserted = this.insertRows(readings);
      this.statements.commit.run();
      return inserted;
    },
    /** A no-op when no transaction is open (SQLite may already have rolled back after an error). */
    rollback: (): void => {
      if (this.db.inTransaction) this.statements.rollback.run();
    },
  };

  /** Installs a session and retires (or drops) the device's others in one transaction. */
  saveSessionChange(installed: PersistedSession, retired: PersistedSession[], dropped: { deviceId: string; keyId: number }[], certNotAfter: number): void {
    this.db.transaction(() => {
      for (const session of [installed, ...retired]) this.statements.upsertSession.run(toRow(session));
      for (const { deviceId, keyId } of dropped) this.statements.deleteSession.run(deviceId, keyId);
      this.statements.upsertDevice.run(installed.deviceId, installed.establishedAt, certNotAfter);
    })();
  }

  dropSessions(sessions: readonly { deviceId: string; keyId: number }[]): void {
    this.db.transaction(() => {
      for (const { deviceId, keyId } of sessions) this.statements.deleteSession.run(deviceId, keyId);
    })();
  }

  loadSessions(): PersistedSession[] {
    return (this.statements.allSessions.all() as SessionRow[]).map((row) => ({
      deviceId: row.device_id,
      keyId: row.key_id,
      scheme: row.scheme,
      sealedKeys: row.sealed_keys,
      establishedAt: row.established_at,
      retireAt: row.retire_at ?? undefined,
      certificateSerial: row.cert_serial ?? undefined,
    }));
  }

  /** Sequence numbers already stored within `window` of the session's highest: rebuilds a replay window. */
  storedSequenceNumbers(deviceId: string, keyId: number, window: number): number[] {
    return (this.statements.recentSeqs.all(deviceId, keyId, deviceId, keyId, window) as { seq: number }[]).map((r) => r.seq);
  }

  /** Records an exchange nonce; false when it was already recorded (a replayed exchange). */
  rememberNonce(deviceId: string, nonce: Buffer, expiresAt: number): boolean {
    return this.statements.insertNonce.run(deviceId, nonce, expiresAt).changes === 1;
  }

  purgeExpiredNonces(now: number): void {
    this.statements.purgeNonces.run(now);
  }

  devices(): DeviceSummary[] {
    return this.db
      .prepare(
        `SELECT d.device_id AS deviceId, coalesce(r.n, 0) AS readings, r.first AS firstReadingAt, r.last AS lastReadingAt,
                d.last_kex_at AS lastKeyExchangeAt, d.cert_not_after AS certificateNotAfter
           FROM devices d LEFT JOIN (
             SELECT device_id, count(*) AS n, min(taken_at) AS first, max(taken_at) AS last FROM readings GROUP BY device_id
           ) r USING (device_id)
          ORDER BY d.device_id`,
      )
      .all() as DeviceSummary[];
  }

  readings(query: ReadingQuery): StoredReading[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.deviceId !== undefined) {
      where.push('device_id = ?');
      params.push(query.deviceId);
    }
    if (query.since !== undefined) {
      where.push('taken_at >= ?');
      params.push(query.since);
    }
    const sql = `SELECT device_id AS deviceId, key_id AS keyId, seq, idx AS "index", taken_at AS takenAt,
                        temperature_c AS temperatureC, humidity_pct AS humidityPct, received_at AS receivedAt
                   FROM readings ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                  ORDER BY taken_at, device_id, key_id, seq, idx LIMIT ?`;
    return this.db.prepare(sql).all(...params, query.limit) as StoredReading[];
  }

  isHealthy(): boolean {
    try {
      this.db.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.db.close();
  }
}

const INSERT_CHUNK = 50;
const COLUMNS = 8;

function insertSql(rows: number): string {
  const row = `(${new Array(COLUMNS).fill('?').join(',')})`;
  return `INSERT OR IGNORE INTO readings VALUES ${new Array(rows).fill(row).join(',')}`;
}

function positional(readings: readonly StoredReading[], from: number, count: number): (string | number)[] {
  const values: (string | number)[] = new Array(count * COLUMNS);
  for (let r = 0, v = 0; r < count; r++) {
    const x = readings[from + r]!;
    values[v++] = x.deviceId;
    values[v++] = x.keyId;
    values[v++] = x.seq;
    values[v++] = x.index;
    values[v++] = x.takenAt;
    values[v++] = x.temperatureC;
    values[v++] = x.humidityPct;
    values[v++] = x.receivedAt;
  }
  return values;
}

interface SessionRow {
  device_id: string;
  key_id: number;
  scheme: string;
  sealed_keys: Buffer;
  established_at: number;
  retire_at: number | null;
  cert_serial: string | null;
}

function toRow(session: PersistedSession) {
  return { ...session, retireAt: session.retireAt ?? null, certificateSerial: session.certificateSerial ?? null };
}
