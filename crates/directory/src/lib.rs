//! The `Directory` trait, its domain types and backends (Active Directory,
//! Microsoft Graph, EWS, plain LDAP, local folder). Filled in by the
//! directory issues; see `docs/ARCHITECTURE.md`.
