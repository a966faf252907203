//! Tests of the synthetic AAF export generator (`sso_testbed::aaf`): they
//! read the written files back with quick-xml (a parser nobody here wrote)
//! and compare them with what the generator says it generated.

#[cfg(test)]
mod common;
#[cfg(test)]
mod complete;
#[cfg(test)]
mod delta;
#[cfg(test)]
mod demo;
#[cfg(test)]
mod encoding;
#[cfg(test)]
mod streaming;
