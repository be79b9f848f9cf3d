-- A store as vmloc wrote it before schema versions were kept (PRAGMA user_version 0,
-- meta.schema_version '1'), in its oldest shape: the schema of src/manager/store.c at commit
-- d6b1ae9, before the maintenance and recommendations tables. tests/unit/test_store.c and
-- tests/integration/test_store.c build a store from this file and open it with the current
-- code, which must upgrade it and keep every row. Do not edit: it stands for stores in use.
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples(id INTEGER PRIMARY KEY, time REAL NOT NULL,
  host TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS samples_time ON samples(time);
CREATE TABLE IF NOT EXISTS conflicts(id INTEGER PRIMARY KEY, time REAL NOT NULL,
  host TEXT NOT NULL, resources TEXT NOT NULL, vms TEXT NOT NULL, outcome TEXT);
CREATE TABLE IF NOT EXISTS migrations(id TEXT PRIMARY KEY, vm TEXT NOT NULL,
  src TEXT NOT NULL, dst TEXT NOT NULL, state TEXT NOT NULL, started REAL NOT NULL,
  finished REAL, error TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS migrations_started ON migrations(started);
CREATE TABLE IF NOT EXISTS agents(name TEXT PRIMARY KEY, url TEXT NOT NULL,
  registered REAL NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1');

INSERT INTO samples(time, host, body) VALUES (1764140000.5, 'h1', '{"host":"h1"}');
INSERT INTO conflicts(time, host, resources, vms, outcome)
  VALUES (1764140001, 'h1', '["cpu"]', '["web-1","db-1"]', 'migrated');
INSERT INTO migrations(id, vm, src, dst, state, started, finished, error, reason)
  VALUES ('m-old-1', 'web-1', 'h1', 'h2', 'done', 1764140002, 1764140030, '', 'cpu conflict');
INSERT INTO agents(name, url, registered) VALUES ('h1', 'http://127.0.0.1:1', 1764140000);
