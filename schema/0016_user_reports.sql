-- Reports of users (POST /users/{userId}/report): no room, the reported user instead.
ALTER TABLE reports ALTER COLUMN room_id DROP NOT NULL;
ALTER TABLE reports ADD COLUMN target_user_id text;
