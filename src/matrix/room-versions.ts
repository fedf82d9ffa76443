// Room versions this server can create and serve. https://spec.matrix.org/latest/rooms/
export const SUPPORTED_ROOM_VERSIONS: Record<string, "stable" | "unstable"> = { "10": "stable", "11": "stable" };
// The default for new rooms is configurable (rooms.default_version); 10 unless set.
