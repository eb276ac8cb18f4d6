import type { AcceptedKex } from '../../protocol/kex.js';
import { ReplayWindow } from '../../protocol/replay-window.js';
import type { SessionKeys } from '../../protocol/session-keys.js';
import { refuse } from '../../protocol/errors.js';
import type { PersistedSession, ReadingsStore } from './readings-store.js';
import type { SessionVault } from './session-vault.js';

export interface LiveSession {
  deviceId: string;
  keyId: number;
  scheme: string;
  keys: SessionKeys;
  establishedAt: number;
  /** Set once a newer session replaced this one: accepted until then. */
  retireAt: number | undefined;
  window: ReplayWindow;
  /** Serial of the certificate that signed the exchange (undefined for sessions stored before it was kept). */
  certificateSerial: string | undefined;
}

export interface SessionPolicy {
  graceMs: number;
  replayWindow: number;
}

/**
 * Live session keys per device: the current one and, for a grace period, the one it replaced. Every
 * change is written through to the store before it takes effect, so a restart resumes exactly here.
 */
export class SessionRegistry {
  private readonly byDevice = new Map<string, LiveSession[]>();

  constructor(
    private readonly store: ReadingsStore,
    private readonly vault: SessionVault,
    private readonly policy: SessionPolicy,
  ) {}

  /** Loads persisted sessions; replay windows are rebuilt from the readings already stored. */
  load(now: number): { loaded: number; unreadable: number } {
    let loaded = 0;
    const gone: { deviceId: string; keyId: number }[] = [];
    for (const row of this.store.loadSessions()) {
      const keys = this.vault.open(row.sealedKeys, row.deviceId, row.keyId);
      if (!keys || (row.retireAt !== undefined && row.retireAt <= now)) {
        gone.push(row);
        continue;
      }
      const window = new ReplayWindow(this.policy.replayWindow);
      for (const seq of this.store.storedSequenceNumbers(row.deviceId, row.keyId, this.policy.replayWindow)) window.accept(seq);
      this.sessionsOf(row.deviceId).push({ ...row, keys, window });
      loaded++;
    }
    this.store.dropSessions(gone);
    return { loaded, unreadable: gone.length };
  }

  private sessionsOf(deviceId: string): LiveSession[] {
    let sessions = this.byDevice.get(deviceId);
    if (!sessions) {
      sessions = [];
      this.byDevice.set(deviceId, sessions);
    }
    return sessions;
  }

  find(deviceId: string, keyId: number, now: number): LiveSession | undefined {
    const sessions = this.byDevice.get(deviceId);
    const session = sessions?.find((s) => s.keyId === keyId);
    if (!session || session.retireAt === undefined || session.retireAt > now) return session;
    this.forget([session]);
    return undefined;
  }

  /** Drops sessions from memory and, in one transaction, from the store. */
  private forget(ended: readonly LiveSession[]): void {
    for (const session of ended) {
      const sessions = this.byDevice.get(session.deviceId) ?? [];
      sessions.splice(sessions.indexOf(session), 1);
      if (sessions.length === 0) this.byDevice.delete(session.deviceId);
    }
    if (ended.length > 0) this.store.dropSessions(ended);
  }

  /** Makes an accepted exchange the device's current session; the previous one enters its grace period. */
  install(accepted: AcceptedKex, now: number): LiveSession {
    const { deviceId, keyId } = accepted;
    const sessions = this.sessionsOf(deviceId);
    if (sessions.some((s) => s.keyId === keyId)) refuse('replay', 'key id already in use for this device');
    const session: LiveSession = {
      deviceId,
      keyId,
      scheme: accepted.scheme,
      keys: accepted.keys,
      establishedAt: now,
      retireAt: undefined,
      window: new ReplayWindow(this.policy.replayWindow),
      certificateSerial: accepted.certificate.serialNumber,
    };
    const retired = sessions.filter((s) => s.retireAt === undefined);
    const dropped = sessions.filter((s) => s.retireAt !== undefined);
    for (const s of retired) s.retireAt = now + this.policy.graceMs;
    this.store.saveSessionChange(
      this.persisted(session),
      retired.map((s) => this.persisted(s)),
      dropped,
      accepted.certificate.notAfter,
    );
    this.byDevice.set(deviceId, [session, ...retired]);
    return session;
  }

  private persisted(session: LiveSession): PersistedSession {
    return {
      deviceId: session.deviceId,
      keyId: session.keyId,
      scheme: session.scheme,
      sealedKeys: this.vault.seal(session.keys, session.deviceId, session.keyId),
      establishedAt: session.establishedAt,
      retireAt: session.retireAt,
      certificateSerial: session.certificateSerial,
    };
  }

  /**
   * Ends every session set up with a now-revoked certificate, including those in their grace period:
   * the device must exchange a key again, which the trust store then refuses. Answers the sessions
   * ended and the devices they belonged to.
   */
  endSessionsOf(revokedSerials: ReadonlySet<string>): { sessions: number; devices: string[] } {
    const ended: LiveSession[] = [];
    for (const sessions of this.byDevice.values()) {
      for (const s of sessions) if (s.certificateSerial !== undefined && revokedSerials.has(s.certificateSerial)) ended.push(s);
    }
    this.forget(ended);
    return { sessions: ended.length, devices: [...new Set(ended.map((s) => s.deviceId))] };
  }

  /** Devices with a current (not retiring) session. */
  get activeDevices(): number {
    let count = 0;
    for (const sessions of this.byDevice.values()) if (sessions.some((s) => s.retireAt === undefined)) count++;
    return count;
  }
}
