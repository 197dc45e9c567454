-- The CRM connects as a non-superuser role so PostgreSQL row-level security applies.
CREATE ROLE crm LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS PASSWORD 'crm';
CREATE DATABASE crm OWNER crm;
