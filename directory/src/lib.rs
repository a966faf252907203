//! The AAF directory (domain reference §3): streaming import of the
//! académies' exports, complete and delta, into a directory that the gateway
//! joins at login to give each service the user's school, profile, classes
//! and groups.

pub mod encoding;
pub mod import;
pub mod model;
pub mod names;
pub mod parser;
pub mod set;
pub mod snapshot;
pub mod store;
