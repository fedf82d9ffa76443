// The service layer, built once in server.ts and handed to every route handler.
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { Db } from "../store/db.js";
import { AccountService } from "./accounts.js";
import { DeviceService } from "./devices.js";
import { ProfileService } from "./profiles.js";
import { TokenService } from "./tokens.js";
import { UiaService } from "./uia.js";
import { RateLimiter, RateOverrides } from "../http/rate-limit.js";
import { ActionLimiter } from "../http/action-limits.js";
import * as events from "../store/events.js";
import { AccountDataService } from "./account-data.js";
import { DirectoryService } from "./directory.js";
import { EventWriter } from "./event-writer.js";
import { MembershipService } from "./membership.js";
import { RoomAdminService } from "./room-admin.js";
import { ServerNoticeService } from "./server-notices.js";
import { EmailService } from "./email.js";
import { EmailNotifier } from "./email-notifier.js";
import { RoomUpgradeService } from "./upgrades.js";
import { ErasureService } from "./erasure.js";
import { Notifier } from "./notifier.js";
import { RoomReadService } from "./room-read.js";
import { RoomStateCache } from "./room-state.js";
import { RoomService } from "./rooms.js";
import { loadSigningKey } from "./signing.js";
import { MembershipCache, roomMatesOf } from "./memberships.js";
import { DbHealth } from "./db-health.js";
import { LegacyStreams } from "./legacy.js";
import { ReceiptService } from "./receipts.js";
import { TypingService } from "./typing.js";
import { PresenceService } from "./presence.js";
import { SyncService } from "./sync.js";
import { LocalBus, RedisBus, type Bus } from "./bus.js";
import { Replicator } from "./replicator.js";
import { UnreadService } from "./unread.js";
import { RelationService } from "./relations.js";
import { SearchService } from "./search.js";
import { PushRuleService } from "./push-rules.js";
import { KeyService } from "./e2ee.js";
import { KeyBackupService } from "./key-backup.js";
import { MediaService } from "./media.js";
import { UserDirectoryService } from "./directory-users.js";
import { PushService } from "./pushers.js";
import { NotificationService } from "./notifications.js";
import { ReportService } from "./reports.js";
import { SlidingSyncService } from "./sliding-sync.js";
import { DeliveryReceipts } from "./delivery-receipts.js";
import { DeliveredWakes } from "./delivered-wakes.js";
import { loadRegistrations } from "../config/appservices.js";
import { AppserviceRegistry } from "./appservices.js";
import { AppserviceDelivery } from "./appservice-delivery.js";

export interface Services {
  config: Config;
  db: Db;
  log: Logger;
  tokens: TokenService;
  accounts: AccountService;
  devices: DeviceService;
  profiles: ProfileService;
  uia: UiaService;
  limits: { login: RateLimiter; registration: RateLimiter; requests: RateLimiter; actions: ActionLimiter; overrides: RateOverrides };
  notifier: Notifier;
  roomCache: RoomStateCache;
  memberships: MembershipCache;
  dbHealth: DbHealth;
  legacy: LegacyStreams;
  writer: EventWriter;
  rooms: RoomService;
  membership: MembershipService;
  roomAdmin: RoomAdminService;
  notices: ServerNoticeService;
  email: EmailService;
  emailNotifier: EmailNotifier;
  upgrades: RoomUpgradeService;
  reader: RoomReadService;
  sync: SyncService;
  slidingSync: SlidingSyncService;
  delivered: DeliveryReceipts;
  accountData: AccountDataService;
  directory: DirectoryService;
  receipts: ReceiptService;
  typing: TypingService;
  presence: PresenceService;
  relations: RelationService;
  search: SearchService;
  pushRules: PushRuleService;
  keys: KeyService;
  keyBackup: KeyBackupService;
  media: MediaService;
  userDirectory: UserDirectoryService;
  pushers: PushService;
  notifications: NotificationService;
  reports: ReportService;
  appservices: AppserviceRegistry;
  delivery: AppserviceDelivery;
  /** Other processes (Redis), or nobody. */
  bus: Bus;
  /** Follows the other processes' writes (only with Redis). */
  replicator: Replicator | null;
  /** Aborted on shutdown: long-polls stop waiting and answer. */
  shutdown: AbortController;
}

export async function createServices(config: Config, db: Db, log: Logger): Promise<Services> {
  let bus: Bus = new LocalBus();
  if (config.redis.url) {
    const rb = new RedisBus(config.redis.url, config.server_name, log.child({ module: "bus" }));
    await rb.start();
    bus = rb;
  }
  const tokens = new TokenService(db, config, bus);
  const appservices = new AppserviceRegistry(loadRegistrations(config.appservices.registration_files), config.server_name, db, log.child({ module: "appservices" }), config.appservices.query_timeout_ms);
  await appservices.ensureSenders();
  tokens.appservices = appservices;
  tokens.onForget((u) => appservices.forgetUser(u)); // deactivation (here or in another process)
  const rl = config.rate_limiting;
  const email = new EmailService(db, config, log.child({ module: "email" }));
  const uia = new UiaService(db, config.server_name);
  uia.email = email;
  const overrides = new RateOverrides(db, bus);
  await overrides.load();
  const signing = await loadSigningKey(db);
  const notifier = new Notifier(await events.selectCurrentPosition(db));
  const roomCache = new RoomStateCache(db);
  const memberships = new MembershipCache(db);
  const accountData = new AccountDataService(db, notifier);
  const pushRules = new PushRuleService(accountData, notifier);
  const unread = new UnreadService(db, roomCache, (u) => pushRules.get(u), (u) => pushRules.peek(u));
  unread.quietSince = (roomId, pos) => { const last = notifier.roomLastPos(roomId); return last !== null ? last <= pos : pos >= notifier.startPos; };
  // New rules, new counts (the kept counts were made with the old ones).
  notifier.onAccountData((u, type) => { if (type === "m.push_rules") unread.forgetUser(u); });
  const deliveredWakes = new DeliveredWakes(notifier);
  const replicator = bus.clustered ? new Replicator(db, bus, notifier, roomCache, memberships, unread, log.child({ module: "replicator" }), deliveredWakes) : null;
  const profiles = new ProfileService(db);
  const writer = new EventWriter(db, roomCache, config.server_name, signing, notifier, log.child({ module: "writer" }), config.search);
  const rooms = new RoomService(db, config, roomCache, writer, profiles);
  writer.onCommit((room, written) => memberships.onCommit(room, written));
  // A redacted message no longer counts as unread.
  writer.onCommit((room, written) => { if (written.some((w) => w.event.type === "m.room.redaction")) unread.forgetRoom(room.roomId); });
  // A new display name or avatar is carried into every room the user is joined to (spec: profiles).
  profiles.onChange(async (userId, key) => {
    if (key !== "displayname" && key !== "avatar_url") return;
    await rooms.propagateProfile(userId, await rooms.joinedRooms(userId));
  });
  const receipts = new ReceiptService(db, roomCache, notifier, accountData, unread, deliveredWakes);
  if (replicator) replicator.receiptLog = receipts.log;
  const typing = new TypingService(roomCache, notifier, bus);
  const accounts = new AccountService(db, config, tokens);
  const erasure = new ErasureService(db, bus);
  await erasure.load();
  accounts.onErase = (userId) => erasure.erase(userId);
  accounts.isExclusive = (userId, asId) => appservices.isExclusiveUser(userId, asId);
  const presence = new PresenceService(config, notifier, memberships, roomCache, (u) => accounts.userExists(u), bus);
  await typing.load();
  await presence.load();
  const reader = new RoomReadService(db, roomCache, notifier);
  const keys = new KeyService(db, notifier, memberships, roomCache, bus);
  const devices = new DeviceService(db, tokens);
  devices.onDeleted = (userId, ids) => keys.devicesDeleted(userId, ids);
  accounts.onNewDevice = (userId) => keys.deviceAdded(userId);
  devices.onChanged = (userId) => keys.deviceAdded(userId);
  const directory = new DirectoryService(db, config.server_name, roomCache);
  directory.isExclusiveAlias = (alias, asId) => appservices.isExclusiveAlias(alias, asId);
  directory.sendState = async (who, roomId, type, content) => { await writer.send(roomId, { type, stateKey: "", content, sender: who.userId }); };
  directory.queryUnknownAlias = (alias) => appservices.queryAlias(alias);
  profiles.queryUnknownUser = (userId) => appservices.queryUser(userId);
  const membership = new MembershipService(db, rooms, writer);
  writer.onCommit((room, written) => { void membership.guestAccessChanged(room, written).catch((e) => log.warn({ err: (e as Error).message }, "removing guests failed")); });
  membership.queryUnknownAlias = (alias) => appservices.queryAlias(alias);
  const upgrades = new RoomUpgradeService(db, config.server_name, roomCache, writer, rooms, accountData, pushRules);
  membership.joinedRoom = (userId, room) => upgrades.joined(userId, room);
  const delivery = new AppserviceDelivery(db, appservices, notifier, roomCache, typing, log.child({ module: "appservice-delivery" }), presence);
  appservices.onActive = (asId) => delivery.alive(asId);
  delivery.keyCounts = (u, d) => keys.counts(u as Parameters<typeof keys.counts>[0], d);
  delivery.roomMates = (u) => roomMatesOf(memberships, roomCache, u as Parameters<typeof keys.counts>[0]) as Promise<Set<string>>;
  keys.onCountsChanged = (u, d) => delivery.countsChanged(u, d);
  await delivery.start();
  const relations = new RelationService(db, notifier, reader);
  relations.versionOf = (roomId) => roomCache.peek(roomId)?.version ?? config.rooms.default_version;
  reader.bundle = (rows, userId, seen) => relations.bundle(rows, userId, undefined, null, seen);
  const dbHealth = new DbHealth(db);
  const sync = new SyncService(db, roomCache, notifier, memberships, receipts, typing, presence, unread, relations, keys);
  sync.dbHealth = dbHealth;
  const delivered = new DeliveryReceipts(db, roomCache, notifier, memberships, receipts, config.delivery_receipts, log.child({ module: "delivered" }));
  sync.onAck = (u, pos) => delivered.ack(u, pos);
  const slidingSync = new SlidingSyncService(bus.clustered, db, roomCache, notifier, memberships, relations, unread, typing, presence, sync,
    { db, notifier, keys, receipts, typing, cache: roomCache, members: memberships });
  slidingSync.dbHealth = dbHealth;
  unread.ignoredBy = (u) => sync.ignoredPeek(u);
  // A new ignore list, new counts.
  notifier.onAccountData((u, type) => { if (type === "m.ignored_user_list") unread.forgetUser(u); });
  dbHealth.onDown(() => notifier.wakeAll());
  const notifications = new NotificationService(db, notifier, memberships, roomCache, (u) => pushRules.get(u));
  const emailNotifier = new EmailNotifier(db, config, email, notifications, roomCache, log.child({ module: "email-notifier" }));
  emailNotifier.start();
  return {
    config, db, log, tokens,
    accounts,
    devices,
    profiles,
    uia,
    limits: {
      login: new RateLimiter(rl.login, rl.enabled),
      registration: new RateLimiter(rl.registration, rl.enabled),
      requests: new RateLimiter(rl.requests, rl.enabled),
      actions: new ActionLimiter(bus, rl),
      overrides,
    },
    notifier, roomCache, memberships, writer, rooms,
    membership,
    notices: new ServerNoticeService(db, config, rooms, accountData),
    email,
    roomAdmin: new RoomAdminService(db, config.server_name, rooms, membership, roomCache, memberships, log.child({ module: "room-admin" })),
    upgrades,
    reader,
    relations,
    search: new SearchService(db, config, memberships, roomCache, relations),
    sync,
    slidingSync,
    delivered,
    dbHealth,
    legacy: new LegacyStreams(db, sync, reader, presence, directory, notifier, typing, receipts, roomCache),
    accountData,
    receipts,
    typing,
    presence,
    bus,
    replicator,
    directory,
    appservices,
    delivery,
    pushRules,
    keys,
    keyBackup: new KeyBackupService(db),
    media: new MediaService(db, config),
    userDirectory: new UserDirectoryService(db, roomCache, config.user_directory.search_all_users),
    reports: new ReportService(db),
    notifications,
    emailNotifier,
    pushers: new PushService(db, notifier, roomCache, memberships, unread, (u) => pushRules.get(u), log.child({ module: "pushers" })),
    shutdown: new AbortController(),
  };
}
