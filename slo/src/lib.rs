//! Availability of authentication in the contractual window (issue 7,
//! domain reference §5): the school calendar as data, the window
//! classification, probe records, the availability report, and the
//! synthetic login probe that produces the records.
//!
//! Everything but [`probe`] is pure computation (no I/O but reading the
//! text given to it); the command-line front ends live in the gateway's
//! binary (`sso-gateway probe`, `sso-gateway slo report`).

pub mod calendar;
pub mod feries;
pub mod probe;
pub mod record;
pub mod report;
pub mod window;
