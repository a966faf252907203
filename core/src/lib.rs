//! Types shared by every crate of the gateway, with no I/O.
//!
//! * [`Identity`]: the canonical identity produced by an upstream connector
//!   (and later enriched by the AAF directory), filtered by the registry's
//!   release policy before anything leaves the gateway.
//! * [`Profile`]: the SDET `National_*` profiles (domain reference §3).
//! * [`Uai`]: the school code, 7 digits and a check letter (domain reference §3).
//! * [`attr`]: the canonical attribute names that mapping rules produce and
//!   release policies consume.
//! * [`Location`], [`line_of`]: where a configuration problem is.
//! * [`aaf`]: AAF export categories and kinds (importer and fixture generator).

pub mod aaf;
mod identity;
mod location;
mod profile;
mod uai;

pub use identity::{Attributes, Identity, attr};
pub use location::{Location, line_of};
pub use profile::{Profile, ProfileError};
pub use uai::{Uai, UaiError};
