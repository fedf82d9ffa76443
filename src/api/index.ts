// The route table, and nothing else.
import type { RouteTable } from "../http/route.js";
import adminRegister from "./admin/register.js";
import adminRegistrationTokens from "./admin/registration-tokens.js";
import adminUsers from "./admin/users.js";
import adminRooms from "./admin/rooms.js";
import adminMedia from "./admin/media.js";
import threepid from "./client/threepid.js";
import account from "./client/account.js";
import devices from "./client/device-management.js";
import login from "./client/login.js";
import profile from "./client/profile.js";
import registration from "./client/registration.js";
import versions from "./client/versions.js";
import createRoom from "./client/create-room.js";
import membership from "./client/membership.js";
import roomEvents from "./client/room-events.js";
import sync from "./client/sync.js";
import slidingSync from "./client/sliding-sync.js";
import accountData from "./client/account-data.js";
import directory from "./client/directory.js";
import pushrules from "./client/pushrules.js";
import receipts from "./client/receipts.js";
import presence from "./client/presence.js";
import redaction from "./client/redaction.js";
import relations from "./client/relations.js";
import search from "./client/search.js";
import appservicePing from "./client/appservice-ping.js";
import thirdParty from "./client/third-party-lookup.js";
import keys from "./client/keys.js";
import keyBackup from "./client/key-backup.js";
import media from "./client/media.js";
import misc from "./client/misc.js";
import pushers from "./client/pushers.js";
import legacy from "./client/legacy.js";

// Express tries routes in this order: the hottest (sync, sending) come first.
export const routeTables: RouteTable[] = [
  sync, slidingSync, roomEvents, versions, registration, login, devices, account, profile, adminRegister,
  createRoom, membership, accountData, directory, pushrules, receipts, presence,
  redaction, relations, search, appservicePing, thirdParty, keys, keyBackup, media, misc, pushers, legacy,
  adminRegistrationTokens, adminUsers, adminRooms, adminMedia, threepid,
];
