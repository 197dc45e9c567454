-- The CRM connects as a non-superuser role so PostgreSQL row-level security applies.
CREATE ROLE crm LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS PASSWORD 'crm';
CREATE DATABASE crm OWNER crm;
-- Customer search uses pg_trgm (trusted since PostgreSQL 13, so the owner could create it too).
\connect crm
CREATE EXTENSION IF NOT EXISTS pg_trgm;
