-- Time spent waiting for the citizen since the current clock started (capture, a restarting
-- redirect, or the first answer), so recomputing deadlines keeps the pause.
ALTER TABLE incidents ADD COLUMN paused_seconds BIGINT NOT NULL DEFAULT 0;
