-- E-mail delivery of notifications, beside the webhook's. Notifications raised before this
-- migration are not e-mailed ('none').
ALTER TABLE notifications ADD COLUMN email_state TEXT NOT NULL DEFAULT 'none';
ALTER TABLE notifications ADD COLUMN email_attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX notifications_email ON notifications (email_state, id);
