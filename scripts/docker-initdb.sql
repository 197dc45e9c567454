-- The CRM connects as a non-superuser role so PostgreSQL row-level security applies.
CREATE ROLE crm LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS PASSWORD 'crm';
-- Owner of the customer-search function (customers/migrations/0014): applies the tenant itself,
-- bypasses RLS so the trigram indexes work. NOLOGIN; granted to the migration role only.
CREATE ROLE crm_search NOLOGIN NOSUPERUSER BYPASSRLS NOINHERIT;
GRANT crm_search TO crm;
CREATE DATABASE crm OWNER crm;
-- Customer search uses pg_trgm (trusted since PostgreSQL 13, so the owner could create it too).
\connect crm
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;  -- trigram indexes led by tenant_id (customers 0014)
