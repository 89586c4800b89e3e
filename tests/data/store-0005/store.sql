BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('0005');
CREATE TABLE api_tokens (
	id VARCHAR(26) NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	digest VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	created_by VARCHAR(200) NOT NULL, 
	last_used_at DATETIME, 
	revoked_at DATETIME, 
	PRIMARY KEY (id)
);
INSERT INTO "api_tokens" VALUES('01M96AR4F47BJ3X10Z2VRB4KQP','laptop','8077318950c575b329c9f3071a99da8060012eb8041115f28c36dd2541523cb5','2026-01-05 12:00:00.000000','user',NULL,NULL);
CREATE TABLE chores (
	name VARCHAR(64) NOT NULL, 
	owner VARCHAR(100), 
	started_at DATETIME, 
	due_at DATETIME NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE conversation_turns (
	id VARCHAR(26) NOT NULL, 
	scope VARCHAR(250) NOT NULL, 
	session VARCHAR(200) NOT NULL, 
	message_id VARCHAR(26), 
	role VARCHAR(16) NOT NULL, 
	turn JSON NOT NULL, 
	tokens INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE messages_in (
	id VARCHAR(26) NOT NULL, 
	session VARCHAR(200) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	content JSON NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	process_after DATETIME NOT NULL, 
	recurrence VARCHAR(200), 
	timezone VARCHAR(64) NOT NULL, 
	series_id VARCHAR(26), 
	occurrence_at DATETIME, 
	occurrence_no INTEGER NOT NULL, 
	is_extra BOOLEAN NOT NULL, 
	tries INTEGER NOT NULL, 
	created_by VARCHAR(200) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	name VARCHAR(200), 
	catch_up VARCHAR(8) NOT NULL, 
	max_runs INTEGER, 
	retries INTEGER NOT NULL, 
	timeout_s FLOAT, 
	context VARCHAR(16), 
	remind BOOLEAN NOT NULL, 
	consecutive_failures INTEGER NOT NULL, 
	next_status VARCHAR(16), 
	reason VARCHAR(2000), 
	lease_owner VARCHAR(100), 
	lease_expires_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_messages_in_series_slot UNIQUE (series_id, occurrence_at)
);
INSERT INTO "messages_in" VALUES('01M96AR4DKCN4BWB6ZNBQ5WRH5','main','task','{"text": "Weekday check", "script": "#!/bin/sh\necho ''{\"wakeAgent\": true}''\n"}','pending','2026-01-06 08:00:00.000000','cron 0 9 * * 1-5','Europe/Paris','01M96AR4DKCN4BWB6ZNBQ5WRH5','2026-01-06 08:00:00.000000',1,0,0,'user','2026-01-05 12:00:00.000000','2026-01-05 12:00:00.000000','weekday','once',NULL,3,NULL,NULL,0,0,NULL,NULL,NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4E04BW58GHDSXGVSWC0','main','task','{"text": "Stretch"}','completed','2026-01-05 13:30:00.000000','every 1h30m','UTC','01M96AR4E04BW58GHDSXGVSWC0','2026-01-05 13:30:00.000000',1,0,0,'user','2026-01-05 12:00:00.000000','2026-01-05 13:35:00.000000','stretch','once',NULL,3,NULL,NULL,1,0,NULL,NULL,NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4E32H2X6RXAJZ1A28CW','main','task','{"text": "Dentist"}','pending','2026-03-01 15:00:00.000000',NULL,'America/New_York','01M96AR4E32H2X6RXAJZ1A28CW','2026-03-01 15:00:00.000000',1,0,0,'user','2026-01-05 12:00:00.000000','2026-01-05 12:00:00.000000','dentist','once',NULL,3,NULL,NULL,1,0,NULL,NULL,NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4E6DW3CHTHJC8R9NM56','main','task','{"text": "Daily digest"}','paused','2026-01-05 15:00:00.000000','cron 0 0 * * *','Asia/Tokyo','01M96AR4E6DW3CHTHJC8R9NM56','2026-01-05 15:00:00.000000',1,0,0,'user','2026-01-05 12:00:00.000000','2026-01-05 12:00:00.000000','digest','once',NULL,3,NULL,NULL,0,0,NULL,'paused by user',NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4EN3T3HWEH2H3B5YYY2','garden','task','{"text": "Water plants"}','pending','2026-01-06 12:00:00.000000','every 1d','UTC','01M96AR4EN3T3HWEH2H3B5YYY2','2026-01-06 12:00:00.000000',1,0,0,'user','2026-01-05 12:00:00.000000','2026-01-05 12:00:00.000000','plants','all',5,1,600.0,'series',0,0,NULL,NULL,NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4ER9WBZVAZ8FVQQW11Y','main','task','{"text": "Quarter hour"}','completed','2026-01-05 12:15:00.000000','cron */15 * * * *','UTC','01M96AR4ER9WBZVAZ8FVQQW11Y','2026-01-05 12:15:00.000000',1,0,0,'user','2026-01-05 12:00:00.000000','2026-01-05 12:16:00.000000','quarter','skip',NULL,3,NULL,NULL,1,0,NULL,NULL,NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4ESC5VM9CAQNMZ8ENH0','main','task','{"text": "Old job"}','cancelled','2026-01-05 14:00:00.000000','every 2h','UTC','01M96AR4ESC5VM9CAQNMZ8ENH0','2026-01-05 14:00:00.000000',1,0,0,'user','2026-01-05 12:00:00.000000','2026-01-05 12:00:00.000000','old','once',NULL,3,NULL,NULL,0,0,NULL,'cancelled by user',NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4F140ASENMVZWSS4V7T','main','chat','{"text": "see you tomorrow"}','pending','2026-01-06 08:00:00.000000',NULL,'UTC',NULL,NULL,1,0,0,'user','2026-01-05 12:00:00.000000','2026-01-05 12:00:00.000000',NULL,'once',NULL,3,NULL,NULL,0,0,NULL,NULL,NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4FH0J7F5H7VMTBZSHY7','main','task','{"text": "Quarter hour"}','completed','2026-01-05 12:30:00.000000','cron */15 * * * *','UTC','01M96AR4ER9WBZVAZ8FVQQW11Y','2026-01-05 12:30:00.000000',2,0,0,'user','2026-01-05 12:16:00.000000','2026-01-05 12:31:00.000000','quarter','skip',NULL,3,NULL,NULL,1,0,NULL,NULL,NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4G11S49WBSA76ZKQWWN','main','task','{"text": "Quarter hour"}','pending','2026-01-05 13:45:00.000000','cron */15 * * * *','UTC','01M96AR4ER9WBZVAZ8FVQQW11Y','2026-01-05 13:45:00.000000',3,0,0,'user','2026-01-05 12:31:00.000000','2026-01-05 13:35:00.000000','quarter','skip',NULL,3,NULL,NULL,1,0,NULL,NULL,NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4GC3M84M46AY6HYNCZP','main','task','{"text": "Stretch"}','pending','2026-01-05 15:00:00.000000','every 1h30m','UTC','01M96AR4E04BW58GHDSXGVSWC0','2026-01-05 15:00:00.000000',2,0,0,'user','2026-01-05 13:35:00.000000','2026-01-05 13:35:00.000000','stretch','once',NULL,3,NULL,NULL,1,0,NULL,NULL,NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4GHB61T23W0M9BF93SJ','main','task','{"text": "Quarter hour"}','skipped','2026-01-05 12:45:00.000000','cron */15 * * * *','UTC','01M96AR4ER9WBZVAZ8FVQQW11Y','2026-01-05 12:45:00.000000',3,1,0,'user','2026-01-05 13:35:00.000000','2026-01-05 13:35:00.000000','quarter','skip',NULL,3,NULL,NULL,1,0,NULL,'slot passed while the task could not run',NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4GJCA2MJJQSV2P5XCK5','main','task','{"text": "Quarter hour"}','skipped','2026-01-05 13:00:00.000000','cron */15 * * * *','UTC','01M96AR4ER9WBZVAZ8FVQQW11Y','2026-01-05 13:00:00.000000',3,1,0,'user','2026-01-05 13:35:00.000000','2026-01-05 13:35:00.000000','quarter','skip',NULL,3,NULL,NULL,1,0,NULL,'slot passed while the task could not run',NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4GM97TZWPRA0YWCPGH3','main','task','{"text": "Quarter hour"}','skipped','2026-01-05 13:15:00.000000','cron */15 * * * *','UTC','01M96AR4ER9WBZVAZ8FVQQW11Y','2026-01-05 13:15:00.000000',3,1,0,'user','2026-01-05 13:35:00.000000','2026-01-05 13:35:00.000000','quarter','skip',NULL,3,NULL,NULL,1,0,NULL,'slot passed while the task could not run',NULL,NULL);
INSERT INTO "messages_in" VALUES('01M96AR4GNE3ZT3RK5DGYJ99T1','main','task','{"text": "Quarter hour"}','skipped','2026-01-05 13:30:00.000000','cron */15 * * * *','UTC','01M96AR4ER9WBZVAZ8FVQQW11Y','2026-01-05 13:30:00.000000',3,1,0,'user','2026-01-05 13:35:00.000000','2026-01-05 13:35:00.000000','quarter','skip',NULL,3,NULL,NULL,1,0,NULL,'slot passed while the task could not run',NULL,NULL);
CREATE TABLE messages_out (
	id VARCHAR(26) NOT NULL, 
	session VARCHAR(200) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	text TEXT NOT NULL, 
	in_reply_to VARCHAR(26), 
	series_id VARCHAR(26), 
	created_at DATETIME NOT NULL, 
	delivered_at DATETIME, 
	PRIMARY KEY (id)
);
INSERT INTO "messages_out" VALUES('01M96AR4FG624E8V7CD2Y3XAMQ','main','reminder','Quarter hour','01M96AR4ER9WBZVAZ8FVQQW11Y','01M96AR4ER9WBZVAZ8FVQQW11Y','2026-01-05 12:16:00.000000',NULL);
INSERT INTO "messages_out" VALUES('01M96AR4G09NK6YWG4D5VCEDN7','main','reminder','Quarter hour','01M96AR4FH0J7F5H7VMTBZSHY7','01M96AR4ER9WBZVAZ8FVQQW11Y','2026-01-05 12:31:00.000000',NULL);
INSERT INTO "messages_out" VALUES('01M96AR4GB9AQMP0JX3Y5D0ZMH','main','reminder','Stretch','01M96AR4E04BW58GHDSXGVSWC0','01M96AR4E04BW58GHDSXGVSWC0','2026-01-05 13:35:00.000000',NULL);
CREATE TABLE runs (
	id VARCHAR(26) NOT NULL, 
	message_id VARCHAR(26) NOT NULL, 
	series_id VARCHAR(26), 
	session VARCHAR(200) NOT NULL, 
	attempt INTEGER NOT NULL, 
	started_at DATETIME NOT NULL, 
	ended_at DATETIME NOT NULL, 
	outcome VARCHAR(16) NOT NULL, 
	error VARCHAR(4000), 
	script_output VARCHAR(4000), 
	model_output VARCHAR(16384), 
	input_tokens INTEGER NOT NULL, 
	output_tokens INTEGER NOT NULL, 
	runner VARCHAR(100), 
	PRIMARY KEY (id)
);
INSERT INTO "runs" VALUES('01M96AR4FG624E8V7CD2Y3XAMP','01M96AR4ER9WBZVAZ8FVQQW11Y','01M96AR4ER9WBZVAZ8FVQQW11Y','main',1,'2026-01-05 12:16:00.000000','2026-01-05 12:16:00.000000','completed',NULL,NULL,NULL,0,0,'host');
INSERT INTO "runs" VALUES('01M96AR4G09NK6YWG4D5VCEDN6','01M96AR4FH0J7F5H7VMTBZSHY7','01M96AR4ER9WBZVAZ8FVQQW11Y','main',1,'2026-01-05 12:31:00.000000','2026-01-05 12:31:00.000000','completed',NULL,NULL,NULL,0,0,'host');
INSERT INTO "runs" VALUES('01M96AR4GB9AQMP0JX3Y5D0ZMG','01M96AR4E04BW58GHDSXGVSWC0','01M96AR4E04BW58GHDSXGVSWC0','main',1,'2026-01-05 13:35:00.000000','2026-01-05 13:35:00.000000','completed',NULL,NULL,NULL,0,0,'host');
INSERT INTO "runs" VALUES('01M96AR4GJCA2MJJQSV2P5XCK4','01M96AR4GHB61T23W0M9BF93SJ','01M96AR4ER9WBZVAZ8FVQQW11Y','main',1,'2026-01-05 13:35:00.000000','2026-01-05 13:35:00.000000','missed','slot passed while the task could not run',NULL,NULL,0,0,NULL);
INSERT INTO "runs" VALUES('01M96AR4GK4VWW8BDS16P7KKXZ','01M96AR4GJCA2MJJQSV2P5XCK5','01M96AR4ER9WBZVAZ8FVQQW11Y','main',1,'2026-01-05 13:35:00.000000','2026-01-05 13:35:00.000000','missed','slot passed while the task could not run',NULL,NULL,0,0,NULL);
INSERT INTO "runs" VALUES('01M96AR4GM97TZWPRA0YWCPGH4','01M96AR4GM97TZWPRA0YWCPGH3','01M96AR4ER9WBZVAZ8FVQQW11Y','main',1,'2026-01-05 13:35:00.000000','2026-01-05 13:35:00.000000','missed','slot passed while the task could not run',NULL,NULL,0,0,NULL);
INSERT INTO "runs" VALUES('01M96AR4GPEFRXJEFFS0PQE6WV','01M96AR4GNE3ZT3RK5DGYJ99T1','01M96AR4ER9WBZVAZ8FVQQW11Y','main',1,'2026-01-05 13:35:00.000000','2026-01-05 13:35:00.000000','missed','slot passed while the task could not run',NULL,NULL,0,0,NULL);
CREATE INDEX ix_messages_in_session_status ON messages_in (session, status);
CREATE INDEX ix_messages_in_series ON messages_in (series_id, id);
CREATE UNIQUE INDEX uq_messages_in_one_live_row ON messages_in (series_id) WHERE status IN ('pending', 'running', 'paused') AND NOT is_extra;
CREATE INDEX ix_messages_out_session ON messages_out (session, id);
CREATE INDEX ix_messages_out_delivered ON messages_out (delivered_at);
CREATE INDEX ix_runs_series ON runs (series_id, started_at);
CREATE INDEX ix_runs_message ON runs (message_id);
CREATE INDEX ix_runs_ended ON runs (ended_at);
CREATE INDEX ix_conversation_turns_scope ON conversation_turns (scope, id);
CREATE INDEX ix_messages_in_status_due ON messages_in (status, process_after, id);
CREATE UNIQUE INDEX uq_api_tokens_digest ON api_tokens (digest);
CREATE UNIQUE INDEX uq_api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;
COMMIT;
