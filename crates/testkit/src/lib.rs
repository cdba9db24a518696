//! Dev-only test helpers: fixture generators and the test-environment
//! description shared by the integration tests.
