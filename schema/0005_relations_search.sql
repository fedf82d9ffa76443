-- Relations (reactions, edits, threads, references) and full-text search.

-- One row per event that relates to another (content."m.relates_to" with rel_type and
-- event_id). Rows of redacted events are deleted, so aggregations skip them.
CREATE TABLE event_relations (
  event_id    text PRIMARY KEY,
  room_id     text NOT NULL,
  relates_to  text NOT NULL,
  rel_type    text NOT NULL,
  type        text NOT NULL,
  sender      text NOT NULL,
  key         text,              -- m.annotation: the reaction key
  pos         bigint NOT NULL
);
CREATE INDEX event_relations_parent ON event_relations (relates_to, rel_type, pos);
CREATE INDEX event_relations_threads ON event_relations (room_id, rel_type, pos) WHERE rel_type = 'm.thread';
-- A user reacts with a given key once per event (M_DUPLICATE_ANNOTATION is checked before the
-- write; this keeps a race between two identical sends from storing a second aggregation row).
CREATE UNIQUE INDEX event_relations_one_annotation ON event_relations (relates_to, sender, type, key) WHERE rel_type = 'm.annotation';

-- The searchable text of an event (content.body, content.name or content.topic: search_key
-- says which), as a tsvector in the configured language plus CJK bigrams (docs/search.md).
-- An edit moves its new text onto the original; a redaction clears it.
ALTER TABLE events ADD COLUMN search_key text;
ALTER TABLE events ADD COLUMN search_vector tsvector;
CREATE INDEX events_search ON events USING gin (search_vector) WHERE search_vector IS NOT NULL;
