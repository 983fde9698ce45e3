-- Run once by the postgres image on its first start (docker-entrypoint-initdb.d), as the
-- superuser: the roles the README's "Roles and setup" has a DBA create. The owner migrates
-- (no CREATEROLE, no superuser); the application runs as a member of ledger_app only.
CREATE ROLE ledger_app NOLOGIN;
CREATE ROLE ledger_reporting NOLOGIN;
CREATE ROLE ledger_owner LOGIN PASSWORD 'ledger_owner';
CREATE ROLE ledger_service LOGIN PASSWORD 'ledger_service' IN ROLE ledger_app;
ALTER DATABASE ledger OWNER TO ledger_owner;
-- Only the ledger's roles connect (the migrations grant CONNECT to ledger_app and
-- ledger_reporting; the owner and superusers always may).
REVOKE ALL ON DATABASE ledger FROM PUBLIC;
ALTER ROLE ledger_service SET idle_in_transaction_session_timeout = '1min';
