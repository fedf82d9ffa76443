// @ganglion/client: a client for Ganglion's WebSocket extension (docs/client-sdk.md).
export { GanglionClient, ConnectionError, type ClientOptions } from "./client.js";
export { Http, MatrixError } from "./http.js";
export { login, register, type Session } from "./auth.js";
export type { ConnectionState, JoinedRoom, Json, LocalMessage, MatrixEvent, MessageState, SocketConstructor, SocketLike, SyncResponse } from "./types.js";
